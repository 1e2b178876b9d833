import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { EnvironmentConfigStore } from '@idm/config-bus';
import Redis from 'ioredis';
import { Client } from 'pg';
import * as oidc from 'openid-client';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { eventually, type AppProcess } from '@idm/test-kit';
import type { TestDatabase } from './support/test-database';

/**
 * The `/auth` prefix of the token service end to end: a proxy's jwt-auth / oauth2-auth policy
 * carries a `tokenService` block whose client id and secret are the proxy's key and secret. The
 * secret is write-only and sealed (PostgreSQL, snapshot, audit), opened by two Gateway processes
 * with the Manager's IDM_MASTER_KEYS; tokens are bound to their proxy and stop working when it is
 * undeployed or deleted.
 */
describe('token service (/auth) managed from a proxy policy, with a Manager and two Gateways', () => {
  const ENV = 'authprefix';
  const MASTER_KEYS = `k1:${randomBytes(32).toString('base64')}`;
  const ORDERS_SECRET = 'orders-proxy-secret-value';
  const LEDGER_SECRET = 'ledger-proxy-secret-value';
  const ORDERS_EXTRA = { cors: { origins: ['https://app.example.com'], credentials: true, maxAgeSeconds: 120 }, forwardedFor: { header: 'X-Client-Chain', order: 'LAST' } };
  const LEDGER_EXTRA = { deletePrevious: true, forwardedFor: { header: 'x-forwarded-for', order: 'FIRST' } };
  let envId: string;
  let appId: string;
  let cluster: Cluster;
  let database: TestDatabase;
  let redisClient: Redis;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let projectId: string;
  let ordersId: string;
  let ledgerId: string;
  let aliceId: string;
  let echoUrl: string;
  let gw: string;

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const post = async (base: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
  };
  const callProxy = async (base: string, path: string, token: string) => {
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };
  const onBoth = (path: string, token: string, status: number, what: string) =>
    Promise.all(
      gateways.map((g) =>
        eventually(
          () => callProxy(g.baseUrl, path, token),
          (r) => r.status === status,
          { what: `${g.name}: ${what}` },
        ),
      ),
    );
  const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
  const tokenService = (clientId: string, clientSecret: string | undefined, extra: Record<string, unknown> = {}) => ({
    clientId,
    ...(clientSecret !== undefined && { clientSecret }),
    grants: ['client_credentials', 'password', 'refresh_token'],
    refreshAllowed: true,
    scopes: ['read', 'write'],
    accessTokenLifetime: { amount: 5, unit: 'minutes' },
    ...extra,
  });

  beforeAll(async () => {
    const keys = { IDM_MASTER_KEYS: MASTER_KEYS };
    // Some tests poll with a secret the Gateways do not know yet (until the new revision lands):
    // each poll is a failed client authentication, which the failure limits must not turn into 429s here.
    const gatewayEnv = {
      ...keys,
      BRUTE_FORCE_PER_CREDENTIAL: '0',
      BRUTE_FORCE_PER_ADDRESS: '0',
      BRUTE_FORCE_PER_CREDENTIAL_ADDRESS: '0',
      TOKEN_CORS_ORIGINS: 'https://portal.example.com',
      TOKEN_CLIENT_IP_HEADER: 'x-forwarded-for',
      TOKEN_CLIENT_IP_ORDER: 'LAST',
    };
    cluster = await startCluster({ environment: ENV, managerEnv: { ...keys, SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' }, gateways: [gatewayEnv, gatewayEnv] });
    ({ database, gateways, admin, echoUrl } = cluster);
    redisClient = new Redis(cluster.redis.url);
    const env = await admin.environments.named(ENV);
    envId = env.id;
    const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const kid = (await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: signingKey.export({ type: 'pkcs8', format: 'pem' }).toString() })).kid;
    projectId = (await admin.projects.create({ name: 'auth-prefix' })).id;
    ordersId = (
      await admin.proxies.create(projectId, {
        name: 'orders',
        basePath: '/orders',
        upstreamUrl: echoUrl,
        environments: [ENV],
        policies: [{ type: 'jwt-auth', config: { methods: { POST: { scopes: ['write'] } }, tokenService: tokenService('orders-key', ORDERS_SECRET, ORDERS_EXTRA) } }],
      })
    ).id;
    ledgerId = (
      await admin.proxies.create(projectId, {
        name: 'ledger',
        basePath: '/ledger',
        upstreamUrl: echoUrl,
        environments: [ENV],
        policies: [{ type: 'oauth2-auth', config: { tokenService: tokenService('ledger-key', LEDGER_SECRET, LEDGER_EXTRA) } }],
      })
    ).id;
    aliceId = (await admin.credentials.create(projectId, { username: 'alice', password: 'alice-password', issueApiKey: false, roles: ['reader'] })).id;
    appId = (await admin.credentials.create(projectId, { username: 'portal-app', password: 'portal-secret', issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, appId, { grants: ['client_credentials'], deletePrevious: true, signingAlgorithm: 'ES256' });
    gw = gateways[0].baseUrl;
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => fetch(`${g.baseUrl}/auth/.well-known/jwks.json`).then((r) => r.json()),
          (j) => j.keys?.[0]?.kid === kid,
          { what: `${g.name} JWKS` },
        ),
      ),
    );
  }, 120000);

  afterAll(async () => {
    redisClient?.disconnect();
    await cluster?.stop();
  }, 30000);

  it('keeps the client secret write-only and sealed: API, PostgreSQL, snapshot and audit never show it', async () => {
    const shown = await admin.proxies.get(projectId, ordersId);
    expect((shown.policies[0].config as any).tokenService.clientId).toBe('orders-key');
    expect(shown.policies[0].config.tokenService).not.toHaveProperty('clientSecret');
    const db = new Client({ connectionString: database.url });
    await db.connect();
    try {
      const stored = JSON.stringify((await db.query('SELECT policies FROM api_proxies')).rows);
      expect(stored).not.toContain(ORDERS_SECRET);
      expect(stored).toMatch(/"clientSecret":"enc:v1:k1:/);
      const audit = JSON.stringify((await db.query('SELECT * FROM audit_events')).rows);
      expect(audit).not.toContain(ORDERS_SECRET);
    } finally {
      await db.end();
    }
    const snapshot = JSON.stringify(await new EnvironmentConfigStore(redisClient).load(ENV));
    expect(snapshot).not.toContain(ORDERS_SECRET);
    expect(snapshot).toContain('enc:v1:k1:');
  });

  it('is discovered through RFC 8414 under /auth and issues opaque tokens bound to the proxy (openid-client)', async () => {
    const config = await oidc.discovery(new URL(`${gw}/auth`), 'ledger-key', LEDGER_SECRET, undefined, { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] });
    expect(config.serverMetadata().token_endpoint).toBe(`${gw}/auth/token`);
    const atRoot = await fetch(`${gw}/.well-known/oauth-authorization-server/auth`).then((r) => r.json());
    expect(atRoot.issuer).toBe(`${gw}/auth`);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.refresh_token).toBeUndefined();
    const ok = await onBoth('/ledger/entries', tokens.access_token, 200, 'proxy client token accepted');
    expect(ok[0].body.headers['x-authenticated-userid']).toBe('ledger-key');
    // Bound to its proxy: the other proxy (jwt-auth) does not take it.
    expect((await callProxy(gw, '/orders/1', tokens.access_token)).status).toBe(401);
    expect(await oidc.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, client_id: 'ledger-key', scope: 'read' });
    // The other prefix does not know this token, nor this client.
    const credentialSide = await post(gw, '/credential/token', { grant_type: 'client_credentials' }, { authorization: basic('ledger-key', LEDGER_SECRET) });
    expect(credentialSide).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    await oidc.tokenRevocation(config, tokens.access_token);
    await onBoth('/ledger/entries', tokens.access_token, 401, 'revoked token refused');
  }, 60000);

  it("refuses a wrong secret, both client auth methods at once, and another proxy's key", async () => {
    expect(await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', 'wrong') })).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    expect(
      await post(
        gw,
        '/auth/token',
        { grant_type: 'client_credentials', client_id: 'orders-key', client_secret: ORDERS_SECRET },
        { authorization: basic('orders-key', ORDERS_SECRET) },
      ),
    ).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', LEDGER_SECRET) })).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
  });

  it('issues JWTs (client_credentials and password: owner = a credential of the project) that only this proxy accepts', async () => {
    const service = await post(gw, '/auth/jwt', { grant_type: 'client_credentials', scope: 'read write' }, { authorization: basic('orders-key', ORDERS_SECRET) });
    expect(service.status).toBe(200);
    expect(payloadOf(service.body.access_token)).toMatchObject({
      iss: `${gw}/auth`,
      sub: 'orders-key',
      client_id: 'orders-key',
      proxy_id: ordersId,
      aud: [ordersId, '/orders'],
      scope: 'read write',
    });
    const ok = await onBoth('/orders/1', service.body.access_token, 200, 'proxy client JWT accepted');
    expect(ok[1].body.headers['x-authenticated-userid']).toBe('orders-key');
    expect((await callProxy(gw, '/ledger/1', service.body.access_token)).status).toBe(401);

    const alice = await post(
      gw,
      '/auth/jwt',
      { grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'read' },
      { authorization: basic('orders-key', ORDERS_SECRET) },
    );
    expect(alice.status).toBe(200);
    expect(alice.body.refresh_token).toMatch(/^idm_rt_/);
    expect(payloadOf(alice.body.access_token)).toMatchObject({ sub: aliceId, proxy_id: ordersId, username: 'alice', roles: ['reader'] });
    const asAlice = await callProxy(gateways[1].baseUrl, '/orders/2', alice.body.access_token);
    expect(asAlice.status).toBe(200);
    expect(asAlice.body.headers['x-authenticated-userid']).toBe('alice');
    const write = await fetch(`${gw}/orders/2`, { method: 'POST', headers: { authorization: `Bearer ${alice.body.access_token}` } });
    expect(write.status).toBe(403);

    const refreshed = await post(gw, '/auth/jwt', { grant_type: 'refresh_token', refresh_token: alice.body.refresh_token }, { authorization: basic('orders-key', ORDERS_SECRET) });
    expect(refreshed.status).toBe(200);
    expect((await callProxy(gw, '/orders/3', refreshed.body.access_token)).status).toBe(200);
    const regenerated = await post(gw, '/auth/jwt/regenerate', { client_id: 'orders-key', client_secret: ORDERS_SECRET }, { authorization: `Bearer ${service.body.access_token}` });
    expect(regenerated.status).toBe(200);
    const introspected = await post(gw, '/auth/introspect', { token: alice.body.access_token }, { authorization: basic('orders-key', ORDERS_SECRET) });
    expect(introspected.body).toMatchObject({ active: true, sub: aliceId });
    // The ledger proxy's client cannot introspect the orders proxy's tokens.
    expect((await post(gw, '/auth/introspect', { token: alice.body.access_token }, { authorization: basic('ledger-key', LEDGER_SECRET) })).body).toEqual({ active: false });
    const stranger = await post(gw, '/auth/token', { grant_type: 'password', username: 'nobody', password: 'x' }, { authorization: basic('orders-key', ORDERS_SECRET) });
    expect(stranger).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 60000);

  it('keeps the stored secret on an update that omits it, and a new secret replaces it', async () => {
    const current = await admin.proxies.get(projectId, ordersId);
    await admin.proxies.update(projectId, ordersId, { policies: current.policies.map((p) => ({ ...p, config: { ...p.config, clockSkewSeconds: 20 } })) });
    const rev = (await new EnvironmentConfigStore(redisClient).head(ENV))!.revision;
    await eventually(
      () => fetch(`${gw}/health/ready`).then((r) => r.json()),
      (b) => Number(b.revision) >= rev,
      { what: 'revision applied' },
    );
    expect((await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) })).status).toBe(200);
    await expect(
      admin.proxies.update(projectId, ordersId, { policies: [{ type: 'jwt-auth', config: { tokenService: tokenService('orders-key', 'enc:v1:k1:AAAA:BBBB') } }] }),
    ).rejects.toThrow(/422|400/);
    const rotated = await admin.proxies.update(projectId, ordersId, {
      policies: [{ type: 'jwt-auth', config: { methods: { POST: { scopes: ['write'] } }, tokenService: tokenService('orders-key', 'rotated-secret', ORDERS_EXTRA) } }],
    });
    expect(JSON.stringify(rotated)).not.toContain('rotated-secret');
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => post(g.baseUrl, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', 'rotated-secret') }),
          (r) => r.status === 200,
          { what: `${g.name}: new secret` },
        ),
      ),
    );
    expect((await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) })).status).toBe(401);
    await admin.proxies.update(projectId, ordersId, {
      policies: [{ type: 'jwt-auth', config: { methods: { POST: { scopes: ['write'] } }, tokenService: tokenService('orders-key', ORDERS_SECRET, ORDERS_EXTRA) } }],
    });
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => post(g.baseUrl, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) }),
          (r) => r.status === 200,
          { what: `${g.name}: secret back` },
        ),
      ),
    );
    // Only the secret changed: still a change, audited without showing it.
    const [latest] = (await admin.audit.query({ entityId: ordersId })).items;
    expect([latest.action, latest.diff]).toEqual(['api_proxy.update', { policies: { changed: true, secret: true } }]);
  }, 60000);

  it("answers CORS preflights from the proxies' settings (/auth) and from the environment (/credential)", async () => {
    const preflight = (path: string, origin: string) => fetch(gw + path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    const auth = await preflight('/auth/token', 'https://app.example.com');
    expect(auth.status).toBe(204);
    expect(auth.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(auth.headers.get('access-control-allow-credentials')).toBe('true');
    expect(auth.headers.get('access-control-allow-methods')).toContain('POST');
    expect(auth.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(auth.headers.get('access-control-max-age')).toBe('120');
    const foreign = await preflight('/auth/token', 'https://evil.example.com');
    expect(foreign.status).toBe(204);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('/auth/token', 'https://portal.example.com')).headers.get('access-control-allow-origin')).toBeNull();
    const credential = await preflight('/credential/jwt', 'https://portal.example.com');
    expect(credential.headers.get('access-control-allow-origin')).toBe('https://portal.example.com');
    expect(credential.headers.get('access-control-allow-credentials')).toBeNull();
    expect((await preflight('/credential/jwt', 'https://app.example.com')).headers.get('access-control-allow-origin')).toBeNull();
    const issued = await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET), origin: 'https://app.example.com' });
    expect(issued.status).toBe(200);
    expect(issued.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(issued.headers.get('vary')).toContain('Origin');
  });

  it('records the client address from the forwarded-for header and order (proxy settings for /auth, environment for /credential)', async () => {
    const chain = { 'x-forwarded-for': '203.0.113.7, 198.51.100.2', 'x-client-chain': '192.0.2.1, 192.0.2.99' };
    const introspect = async (clientId: string, secret: string, token: string) => (await post(gw, '/auth/introspect', { token }, { authorization: basic(clientId, secret) })).body;
    const ledger = (await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('ledger-key', LEDGER_SECRET), ...chain })).body.access_token;
    expect(await introspect('ledger-key', LEDGER_SECRET, ledger)).toMatchObject({ active: true, client_ip: '203.0.113.7' }); // FIRST of x-forwarded-for
    const orders = (await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET), ...chain })).body.access_token;
    expect(await introspect('orders-key', ORDERS_SECRET, orders)).toMatchObject({ active: true, client_ip: '192.0.2.99' }); // LAST of x-client-chain
    const noHeader = (await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) })).body.access_token;
    expect(await introspect('orders-key', ORDERS_SECRET, noHeader)).toMatchObject({ client_ip: '127.0.0.1' });
    // /credential: TOKEN_CLIENT_IP_HEADER=x-forwarded-for, TOKEN_CLIENT_IP_ORDER=LAST from the environment.
    const portal = (await post(gw, '/credential/token', { grant_type: 'client_credentials' }, { authorization: basic('portal-app', 'portal-secret'), ...chain })).body.access_token;
    expect((await post(gw, '/credential/introspect', { token: portal }, { authorization: basic('portal-app', 'portal-secret') })).body).toMatchObject({
      active: true,
      client_ip: '198.51.100.2',
    });
  });

  it("honours deletePrevious: a new token revokes the client's previous ones on every gateway", async () => {
    const first = (await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('ledger-key', LEDGER_SECRET) })).body.access_token;
    await onBoth('/ledger/a', first, 200, 'first token works');
    const second = (await post(gateways[1].baseUrl, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('ledger-key', LEDGER_SECRET) })).body.access_token;
    await onBoth('/ledger/a', first, 401, 'previous token revoked');
    await onBoth('/ledger/a', second, 200, 'new token works');
    // Without deletePrevious (orders) earlier tokens stay valid.
    const a = (await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) })).body.access_token;
    await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) });
    expect((await post(gw, '/auth/introspect', { token: a }, { authorization: basic('orders-key', ORDERS_SECRET) })).body.active).toBe(true);
  });

  it('honours signingAlgorithm: server_error without such a key, then signs with the pinned algorithm', async () => {
    const refused = await post(gw, '/credential/jwt', { grant_type: 'client_credentials' }, { authorization: basic('portal-app', 'portal-secret') });
    expect(refused).toMatchObject({ status: 500, body: { error: 'server_error' } });
    expect(refused.body.error_description).toContain('ES256');
    // Rotation to ES256 keeps the RS256 key published (and activated) for an hour.
    const ecKid = (await admin.signingKeys.rotate(envId, { algorithm: 'ES256', retireAfterSeconds: 3600 })).kid;
    const issued = await eventually(
      () => post(gw, '/credential/jwt', { grant_type: 'client_credentials' }, { authorization: basic('portal-app', 'portal-secret') }),
      (r) => r.status === 200,
      { what: 'ES256 key served' },
    );
    expect(JSON.parse(Buffer.from(issued.body.access_token.split('.')[0], 'base64url').toString())).toMatchObject({ alg: 'ES256', kid: ecKid });
    // The proxy client pins RS256 while the newest key is ES256.
    const current = await admin.proxies.get(projectId, ordersId);
    await admin.proxies.update(projectId, ordersId, {
      policies: current.policies.map((p) => ({ ...p, config: { ...p.config, tokenService: { ...(p.config.tokenService as object), signingAlgorithm: 'RS256' } } })),
    });
    const pinned = await eventually(
      () => post(gw, '/auth/jwt', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) }),
      (r) => r.status === 200 && JSON.parse(Buffer.from(r.body.access_token.split('.')[0], 'base64url').toString()).alg === 'RS256',
      { what: 'RS256 pinned' },
    );
    await onBoth('/orders/1', pinned.body.access_token, 200, 'pinned RS256 token accepted');
  }, 60000);

  it('stops the tokens of a proxy that is undeployed, and of a proxy that is deleted', async () => {
    const jwt = (await post(gw, '/auth/jwt', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) })).body.access_token as string;
    const opaque = (await post(gw, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('ledger-key', LEDGER_SECRET) })).body.access_token as string;
    await onBoth('/orders/1', jwt, 200, 'JWT works while deployed');
    await onBoth('/ledger/1', opaque, 200, 'opaque works while deployed');

    await admin.proxies.update(projectId, ordersId, { environments: [] });
    await onBoth('/orders/1', jwt, 404, 'undeployed proxy gone');
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => post(g.baseUrl, '/auth/token', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) }),
          (r) => r.status === 401,
          { what: `${g.name}: undeployed client refused` },
        ),
      ),
    );
    // Deployed again: the new deployment does not revive tokens of the old one; fresh tokens work.
    await new Promise((r) => setTimeout(r, 1100)); // iat has one-second resolution
    await admin.proxies.update(projectId, ordersId, { environments: [ENV] });
    await onBoth('/orders/1', jwt, 401, 'redeployed proxy refuses tokens of the earlier deployment');
    const fresh = await eventually(
      () => post(gw, '/auth/jwt', { grant_type: 'client_credentials' }, { authorization: basic('orders-key', ORDERS_SECRET) }),
      (r) => r.status === 200,
      { what: 'client back' },
    );
    await onBoth('/orders/1', fresh.body.access_token, 200, 'tokens of the new deployment work');

    await admin.proxies.remove(projectId, ledgerId);
    await onBoth('/ledger/1', opaque, 404, 'deleted proxy gone');
    const recreated = await admin.proxies.create(projectId, {
      name: 'ledger',
      basePath: '/ledger',
      upstreamUrl: echoUrl,
      environments: [ENV],
      policies: [{ type: 'oauth2-auth', config: { tokenService: tokenService('ledger-key', LEDGER_SECRET) } }],
    });
    expect(recreated.id).not.toBe(ledgerId);
    await onBoth('/ledger/1', opaque, 401, "the deleted proxy's token does not open its successor");
    expect((await post(gw, '/auth/introspect', { token: opaque }, { authorization: basic('ledger-key', LEDGER_SECRET) })).body).toEqual({ active: false });
  }, 90000);
});
