import { type ConfigSnapshot, type SnapshotCredential, type SnapshotProxy } from '@idm/config-bus';
import { UpstreamPolicy } from '@idm/domain';
import { createRequestContext } from '@idm/policies';
import { OAuthError } from '@idm/tokens';
import { hash } from 'argon2';
import { box, configSnapshot, snapshotCredential, snapshotKey, snapshotProxy } from '@idm/test-kit';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { UpstreamPools } from '../proxy/upstream-pools';
import type { GatewayTokenStore } from '../token-service/gateway-token-store';
import { TokenEndpoints, type TokenCall } from '../token-service/token-endpoints';
import { ActiveConfiguration } from './active-configuration';

const PASSWORD = 'correct horse battery';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
/** The JWT grants below never reach the opaque token store; touching it would be a bug here. */
const untouchedStore = new Proxy(
  {},
  {
    get: () => {
      throw new Error('the JWT client_credentials grant must not use the token store');
    },
  },
) as GatewayTokenStore;

const ordersProxy = (): SnapshotProxy =>
  snapshotProxy({
    id: 'p-orders',
    projectId: 'proj',
    name: 'orders',
    basePath: '/orders',
    upstreamUrl: 'http://127.0.0.1:1',
    methods: ['GET'],
    policies: [{ type: 'basic-auth', config: {} }],
  });
const shopProxy = (): SnapshotProxy =>
  snapshotProxy({
    id: 'p-shop',
    projectId: 'proj',
    name: 'shop',
    basePath: '/shop',
    upstreamUrl: 'http://127.0.0.1:1',
    methods: ['GET'],
    deployedAt: new Date(Date.UTC(2024, 0, 1)).toISOString(),
    policies: [{ type: 'jwt-auth', config: { tokenService: { clientId: 'shop-client', clientSecret: box.seal('shop-secret'), grants: ['client_credentials'] } } }],
  });

describe('ActiveConfiguration: one serving revision for the proxy path and the token service', () => {
  let pools: UpstreamPools;
  let alice: SnapshotCredential;
  const signingKey = snapshotKey('ES256');
  const snapshot = (revision: number, proxies: SnapshotProxy[], credentials: SnapshotCredential[]): ConfigSnapshot =>
    configSnapshot({ epoch: 'e1', revision, proxies, credentials, signingKeys: [signingKey] });

  beforeAll(async () => {
    pools = new UpstreamPools(
      { connectTimeoutMs: 1000, headersTimeoutMs: 1000, bodyTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connections: 4 },
      new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] }),
    );
    alice = snapshotCredential({
      id: 'c-alice',
      projectId: 'proj',
      username: 'alice',
      passwordHash: await hash(PASSWORD, { type: 2 }),
      tokenSettings: { grants: ['client_credentials'] },
    });
  });
  afterAll(() => pools.closeAll());

  const setup = () => {
    const active = new ActiveConfiguration(pools, new GatewayMetrics(), { secrets: box });
    const credentialTokens = new TokenEndpoints(active, untouchedStore, box, active.passwordCache, 'test');
    const authTokens = new TokenEndpoints(active, untouchedStore, box, active.passwordCache, 'test', { surface: 'auth' });
    const call = (user: string, secret: string): TokenCall => ({
      issuer: 'http://gw.test/credential',
      authorization: basic(user, secret),
      params: new URLSearchParams({ grant_type: 'client_credentials' }),
      fromUrl: false,
    });
    const proxied = (path: string) => {
      const ctx = createRequestContext({ method: 'GET', path, headers: { authorization: basic('alice', PASSWORD) }, query: '', clientIp: '127.0.0.1' });
      return active.current!.route(path)!.proxy.runPolicies(ctx);
    };
    return { active, credentialTokens, authTokens, call, proxied };
  };

  it('indexes the token clients once, on the credential directory the chains use', () => {
    const { active } = setup();
    const revision = active.activate(snapshot(1, [ordersProxy(), shopProxy()], [alice]));
    expect(revision.tokens.clients.findById('c-alice')!.entry).toBe(revision.directory.findById('c-alice'));
    expect(revision.tokens.clients.findOwner('proj', 'alice')!.credential).toEqual(alice); // decoded from its record
    expect(revision.tokens.proxyClients.forProxy('p-shop')!.settings.clientId).toBe('shop-client');
    expect(revision.tokens.projectBasePaths.get('proj')).toEqual(['/orders', '/shop']);
    expect(active.current).toBe(revision);
    expect(revision.tokens).toBe(revision.tokens); // indexed once per revision, not per call
  });

  it('a revision swap is seen by the proxy chain and both token prefixes alike', async () => {
    const { active, credentialTokens, authTokens, call, proxied } = setup();
    active.activate(snapshot(1, [ordersProxy(), shopProxy()], [alice]));
    expect(await proxied('/orders')).toBeUndefined();
    await expect(credentialTokens.token(call('alice', PASSWORD), 'jwt')).resolves.toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
    await expect(authTokens.token({ ...call('shop-client', 'shop-secret'), issuer: 'http://gw.test/auth' }, 'jwt')).resolves.toMatchObject({ token_type: 'Bearer' });

    // Revision 2: alice is disabled and the shop proxy is undeployed.
    active.activate(snapshot(2, [ordersProxy()], [{ ...alice, enabled: false }]));
    expect(await proxied('/orders')).toMatchObject({ status: 401, code: 'credential_disabled' });
    await expect(credentialTokens.token(call('alice', PASSWORD), 'jwt')).rejects.toEqual(new OAuthError('invalid_client', 'client authentication failed'));
    await expect(authTokens.token({ ...call('shop-client', 'shop-secret'), issuer: 'http://gw.test/auth' }, 'jwt')).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it('verifies its own JWTs with the key ring of the revision being served', async () => {
    const { active, credentialTokens, call } = setup();
    active.activate(snapshot(1, [ordersProxy()], [alice]));
    const { access_token } = (await credentialTokens.token(call('alice', PASSWORD), 'jwt')) as { access_token: string };
    const introspect = () => credentialTokens.introspect({ ...call('alice', PASSWORD), params: new URLSearchParams({ token: access_token }) });
    await expect(introspect()).resolves.toMatchObject({ active: true, sub: 'c-alice' });
    // The key leaves the environment: the next revision's verifier no longer knows it.
    active.activate({ ...snapshot(2, [ordersProxy()], [alice]), signingKeys: [] });
    await expect(introspect()).resolves.toEqual({ active: false });
  });
});
