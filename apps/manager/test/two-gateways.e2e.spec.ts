import { createEchoServer } from '../../echo-upstream/src';
import type { Server } from 'node:http';
import { AdminClient } from './support/admin-client';
import { AppProcess, eventually, freePort, RedisProcess } from './support/processes';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * The foundation end to end: one Manager and two Gateway processes on a private Redis and a
 * PostgreSQL database of their own; config changes over REST must reach both gateways, and the
 * gateways must survive the Manager dying and Redis restarting.
 */
describe('Manager + two Gateways', () => {
  const ADMIN_PASSWORD = 'e2e-admin-password';
  const ENV = 'e2e';
  let database: TestDatabase;
  let redis: RedisProcess;
  let echo: Server;
  let echoUrl: string;
  let manager: AppProcess;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let projectId: string;

  const startManager = async () => {
    await manager.start();
    admin = new AdminClient(manager.baseUrl);
    await admin.login('admin', ADMIN_PASSWORD);
  };
  const callGateway = (gateway: AppProcess, path: string, headers: Record<string, string> = {}) =>
    fetch(gateway.baseUrl + path, { headers }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => undefined), wwwAuthenticate: r.headers.get('www-authenticate') }));
  const bothAnswer = (path: string, headers: Record<string, string>, status: number, what: string) =>
    Promise.all(gateways.map((g) => eventually(() => callGateway(g, path, headers), (r) => r.status === status, { what: `${g.name}: ${what}` })));

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    redis = new RedisProcess(await freePort());
    await redis.start();
    echo = createEchoServer();
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
    const managerPort = await freePort();
    manager = new AppProcess('manager', 'apps/manager/dist/main.js', {
      MANAGER_PORT: String(managerPort),
      MANAGER_HOST: '127.0.0.1',
      DATABASE_URL: database.url!,
      REDIS_URL: redis.url,
      IDM_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LOG_LEVEL: 'warn',
    }, `http://127.0.0.1:${managerPort}`);
    await startManager();
    await admin.call('POST', '/api/v1/environments', { name: ENV });
    projectId = (await admin.call('POST', '/api/v1/projects', { name: 'shop' })).id;
    gateways = [];
    for (const name of ['gateway-a', 'gateway-b']) {
      const port = await freePort();
      gateways.push(new AppProcess(name, 'apps/gateway/dist/main.js', {
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_ENVIRONMENT: ENV,
        REDIS_URL: redis.url,
        CONFIG_POLL_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
      }, `http://127.0.0.1:${port}`));
    }
    await Promise.all(gateways.map((g) => g.start()));
  }, 90000);

  afterAll(async () => {
    await Promise.all([...(gateways ?? []), manager].filter(Boolean).map((p) => p.stop()));
    await redis?.stop();
    await new Promise((r) => echo?.close(r));
    await database?.drop();
  }, 30000);

  let apiKey: string;
  let credentialId: string;
  let proxyId: string;

  it('serves a proxy created over REST on both gateways, then follows disable and delete', async () => {
    const proxy = await admin.call('POST', `/api/v1/projects/${projectId}/proxies`, {
      name: 'catalog',
      basePath: '/catalog',
      upstreamUrl: `${echoUrl}/v1`,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    proxyId = proxy.id;
    const credential = await admin.call('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'shopper', password: 'shopper-password' });
    apiKey = credential.apiKey.key;
    credentialId = credential.id;

    const ok = await bothAnswer('/catalog/items?page=2', { 'x-api-key': apiKey }, 200, 'proxy serves with the API key');
    for (const { body } of ok) {
      expect(body.path).toBe('/v1/items');
      expect(body.query).toEqual({ page: '2' });
      expect(body.headers['x-authenticated-userid']).toBe('shopper');
      expect(body.headers['x-api-key']).toBeUndefined();
    }

    await admin.call('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled: false });
    const denied = await bothAnswer('/catalog/items', { 'x-api-key': apiKey }, 401, 'disabled credential is refused');
    for (const r of denied) {
      expect(r.body.code).toBe('credential_disabled');
      expect(r.wwwAuthenticate).toContain('ApiKey');
    }

    await admin.call('DELETE', `/api/v1/projects/${projectId}/proxies/${proxyId}`);
    const gone = await bothAnswer('/catalog/items', { 'x-api-key': apiKey }, 404, 'deleted proxy is gone');
    for (const r of gone) expect(r.body.code).toBe('route_not_found');
  }, 60000);

  it('authenticates basic-auth against the credential password on both gateways', async () => {
    await admin.call('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled: true });
    await admin.call('POST', `/api/v1/projects/${projectId}/proxies`, {
      name: 'orders',
      basePath: '/orders',
      upstreamUrl: echoUrl,
      policies: [{ type: 'basic-auth', config: {} }],
      environments: [ENV],
    });
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    const ok = await bothAnswer('/orders/1', basic('shopper', 'shopper-password'), 200, 'basic-auth accepted');
    expect(ok[0].body.headers['x-authenticated-userid']).toBe('shopper');
    expect(ok[0].body.headers.authorization).toBeUndefined();
    const wrong = await callGateway(gateways[1], '/orders/1', basic('shopper', 'wrong-password'));
    expect(wrong.status).toBe(401);
    expect(wrong.wwwAuthenticate).toMatch(/^Basic realm=/);
  }, 60000);

  it('rotates an API key with a grace period and revokes keys on both gateways', async () => {
    await admin.call('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled: true });
    await admin.call('POST', `/api/v1/projects/${projectId}/proxies`, {
      name: 'keys',
      basePath: '/keys',
      upstreamUrl: echoUrl,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    await bothAnswer('/keys/a', { 'x-api-key': apiKey }, 200, 'old key works');
    const keyId = (await admin.call('GET', `/api/v1/projects/${projectId}/credentials/${credentialId}`)).apiKeys[0].id;
    const rotated = await admin.call('POST', `/api/v1/projects/${projectId}/credentials/${credentialId}/api-keys/${keyId}/rotate`, { graceSeconds: 3 });
    const graceEnds = Date.parse(rotated.replaced.expiresAt);
    await bothAnswer('/keys/b', { 'x-api-key': rotated.key }, 200, 'new key works');
    for (const g of gateways) expect((await callGateway(g, '/keys/c', { 'x-api-key': apiKey })).status).toBe(200); // grace
    await new Promise((r) => setTimeout(r, Math.max(0, graceEnds - Date.now() + 100)));
    const expired = await bothAnswer('/keys/d', { 'x-api-key': apiKey }, 401, 'old key fails after the grace period');
    expect(expired.map((r) => r.body.code)).toEqual(['api_key_expired', 'api_key_expired']);
    await admin.call('DELETE', `/api/v1/projects/${projectId}/credentials/${credentialId}/api-keys/${rotated.id}`);
    const revoked = await bothAnswer('/keys/e', { 'x-api-key': rotated.key }, 401, 'revoked key fails everywhere');
    expect(revoked.map((r) => r.body.code)).toEqual(['invalid_api_key', 'invalid_api_key']);
  }, 60000);

  it('keeps serving when the Manager dies', async () => {
    await manager.stop('SIGKILL');
    for (const gateway of gateways) {
      const res = await callGateway(gateway, '/orders/2', { authorization: `Basic ${Buffer.from('shopper:shopper-password').toString('base64')}` });
      expect(res.status).toBe(200);
    }
    await startManager();
  }, 60000);

  it('converges to the latest revision after Redis restarts while a change is made', async () => {
    await redis.stop();
    // The change commits to PostgreSQL while Redis is down; publication waits for Redis.
    await admin.call('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled: false });
    for (const gateway of gateways) {
      const stale = await callGateway(gateway, '/orders/3', { authorization: `Basic ${Buffer.from('shopper:shopper-password').toString('base64')}` });
      expect(stale.status).toBe(200); // still the last compiled config: Redis is gone, the gateway keeps serving
    }
    await redis.start();
    await bothAnswer('/orders/3', { authorization: `Basic ${Buffer.from('shopper:shopper-password').toString('base64')}` }, 401, 'change made during the outage arrives');
    const env = (await admin.call('GET', '/api/v1/environments')).find((e: { name: string }) => e.name === ENV);
    for (const gateway of gateways) {
      const ready = await eventually(() => fetch(`${gateway.baseUrl}/health/ready`).then((r) => r.json()), (b: any) => b.revision === env.revision, { what: `${gateway.name} at revision ${env.revision}` });
      expect(ready.revision).toBe(env.revision);
    }
  }, 90000);
});
