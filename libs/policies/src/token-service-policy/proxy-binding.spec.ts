import { signJwt, SigningKeyRing, type JwtClaims } from '@idm/tokens';
import { box, configSnapshot, snapshotCredential, snapshotKey, snapshotProxy } from '@idm/test-kit';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';

/**
 * Tokens issued through a proxy's own token service (`/auth`) carry `proxy_id`: jwt-auth takes
 * them only on that proxy, only while its policy has that client id, and only when issued after
 * the proxy's current deployment started.
 */
const NOW = Date.parse('2030-01-01T00:00:00Z');
const S = NOW / 1000;
const key = snapshotKey('RS256');
const { ring } = SigningKeyRing.fromSnapshot([key], box);
const signer = ring.signer(NOW)!;
const tokenService = { clientId: 'orders-key', clientSecret: 'enc:v1:k:x:y' };

function run(token: string, { service = tokenService as typeof tokenService | null, deployedAt = new Date(NOW - 60_000).toISOString(), proxyId = 'p1' } = {}) {
  const snapshot = configSnapshot({
    generatedAt: new Date(NOW).toISOString(),
    proxies: [
      snapshotProxy({
        id: proxyId,
        name: 'orders',
        basePath: '/orders',
        upstreamUrl: 'http://127.0.0.1:1',
        methods: ['GET'],
        deployedAt,
        policies: [{ type: 'jwt-auth', config: service ? { tokenService: service } : {} }],
      }),
    ],
    credentials: [snapshotCredential({ id: 'c1', username: 'alice' })],
    signingKeys: [key],
  });
  // The environment's issuers as a Gateway with GATEWAY_PUBLIC_URL=https://gw.example has them.
  const issuers = { fixed: ['https://gw.example/credential', 'https://gw.example/auth'], isRequestIssuer: () => false };
  const proxy = compileEnvironment(snapshot, { now: () => NOW, keyRing: ring, issuers }).route('/orders')!;
  const ctx = createRequestContext({ method: 'GET', path: '/orders', headers: { authorization: `Bearer ${token}` }, query: '', clientIp: '127.0.0.1' });
  return { outcome: proxy.runPolicies(ctx), ctx };
}

const token = (over: JwtClaims = {}) =>
  signJwt({ iss: 'https://gw.example/auth', sub: 'orders-key', client_id: 'orders-key', proxy_id: 'p1', aud: ['p1', '/orders'], iat: S, nbf: S, exp: S + 60, ...over }, signer);

describe('jwt-auth and tokens issued through a proxy policy (/auth)', () => {
  it('authenticates the proxy client (no credential) on its own proxy', () => {
    const { outcome, ctx } = run(token());
    expect(outcome).toBeUndefined();
    expect(ctx.identity).toEqual({ credentialId: 'orders-key', username: 'orders-key', projectId: 'proj-a' });
    expect(ctx.credential).toBeNull();
  });

  it('authenticates a password-grant owner (a credential of the project)', () => {
    const { outcome, ctx } = run(token({ sub: 'c1' }));
    expect(outcome).toBeUndefined();
    expect(ctx.identity?.username).toBe('alice');
  });

  it.each([
    ['another proxy', () => run(token({ proxy_id: 'p2' }))],
    ['a proxy whose policy no longer has a token service', () => run(token(), { service: null })],
    ['a different client id', () => run(token({ client_id: 'old-key', sub: 'old-key' }))],
    ['a token issued before the current deployment', () => run(token({ iat: S - 120, nbf: S - 120 }))],
  ])('refuses a token of %s', (_, result) => {
    expect(result().outcome).toMatchObject({ status: 401, code: 'invalid_token' });
  });
});
