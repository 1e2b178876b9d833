import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { eventually, type AppProcess } from '@idm/test-kit';

/**
 * The foundation end to end: one Manager and two Gateway processes on a private Redis and a
 * PostgreSQL database of their own; config changes over REST must reach both gateways, and the
 * gateways must survive the Manager dying and Redis restarting.
 */
describe('Manager + two Gateways', () => {
  const ENV = 'e2e';
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let echoUrl: string;
  let projectId: string;

  const callGateway = (gateway: AppProcess, path: string, headers: Record<string, string> = {}) =>
    fetch(gateway.baseUrl + path, { headers }).then(async (r) => ({
      status: r.status,
      body: await r.json().catch(() => undefined),
      wwwAuthenticate: r.headers.get('www-authenticate'),
    }));
  const bothAnswer = (path: string, headers: Record<string, string>, status: number, what: string) =>
    Promise.all(
      gateways.map((g) =>
        eventually(
          () => callGateway(g, path, headers),
          (r) => r.status === status,
          { what: `${g.name}: ${what}` },
        ),
      ),
    );

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV });
    ({ gateways, admin, echoUrl } = cluster);
    projectId = (await admin.projects.create({ name: 'shop' })).id;
  }, 90000);

  afterAll(() => cluster?.stop(), 30000);

  let apiKey: string;
  let credentialId: string;
  let proxyId: string;

  it('serves a proxy created over REST on both gateways, then follows disable and delete', async () => {
    const proxy = await admin.proxies.create(projectId, {
      name: 'catalog',
      basePath: '/catalog',
      upstreamUrl: `${echoUrl}/v1`,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    proxyId = proxy.id;
    const credential = await admin.credentials.create(projectId, { username: 'shopper', password: 'shopper-password' });
    apiKey = credential.apiKey!.key;
    credentialId = credential.id;

    const ok = await bothAnswer('/catalog/items?page=2', { 'x-api-key': apiKey }, 200, 'proxy serves with the API key');
    for (const { body } of ok) {
      expect(body.path).toBe('/v1/items');
      expect(body.query).toEqual({ page: '2' });
      expect(body.headers['x-authenticated-userid']).toBe('shopper');
      expect(body.headers['x-api-key']).toBeUndefined();
    }

    await admin.credentials.update(projectId, credentialId, { enabled: false });
    const denied = await bothAnswer('/catalog/items', { 'x-api-key': apiKey }, 401, 'disabled credential is refused');
    for (const r of denied) {
      expect(r.body.code).toBe('credential_disabled');
      expect(r.wwwAuthenticate).toContain('ApiKey');
    }

    await admin.proxies.remove(projectId, proxyId);
    const gone = await bothAnswer('/catalog/items', { 'x-api-key': apiKey }, 404, 'deleted proxy is gone');
    for (const r of gone) expect(r.body.code).toBe('route_not_found');
  }, 60000);

  it('authenticates basic-auth against the credential password on both gateways', async () => {
    await admin.credentials.update(projectId, credentialId, { enabled: true });
    await admin.proxies.create(projectId, {
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
    await admin.credentials.update(projectId, credentialId, { enabled: true });
    await admin.proxies.create(projectId, {
      name: 'keys',
      basePath: '/keys',
      upstreamUrl: echoUrl,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    await bothAnswer('/keys/a', { 'x-api-key': apiKey }, 200, 'old key works');
    const keyId = (await admin.credentials.get(projectId, credentialId)).apiKeys[0].id;
    const rotated = await admin.credentials.rotateApiKey(projectId, credentialId, keyId, { graceSeconds: 3 });
    const graceEnds = Date.parse(rotated.replaced.expiresAt);
    await bothAnswer('/keys/b', { 'x-api-key': rotated.key }, 200, 'new key works');
    for (const g of gateways) expect((await callGateway(g, '/keys/c', { 'x-api-key': apiKey })).status).toBe(200); // grace
    await new Promise((r) => setTimeout(r, Math.max(0, graceEnds - Date.now() + 100)));
    const expired = await bothAnswer('/keys/d', { 'x-api-key': apiKey }, 401, 'old key fails after the grace period');
    expect(expired.map((r) => r.body.code)).toEqual(['api_key_expired', 'api_key_expired']);
    await admin.credentials.revokeApiKey(projectId, credentialId, rotated.id);
    const revoked = await bothAnswer('/keys/e', { 'x-api-key': rotated.key }, 401, 'revoked key fails everywhere');
    expect(revoked.map((r) => r.body.code)).toEqual(['invalid_api_key', 'invalid_api_key']);
  }, 60000);

  it('keeps serving when the Manager dies', async () => {
    await cluster.manager.stop('SIGKILL');
    for (const gateway of gateways) {
      const res = await callGateway(gateway, '/orders/2', { authorization: `Basic ${Buffer.from('shopper:shopper-password').toString('base64')}` });
      expect(res.status).toBe(200);
    }
    await cluster.restartManager();
    admin = cluster.admin;
  }, 60000);

  it('converges to the latest revision after Redis restarts while a change is made', async () => {
    await cluster.redis.stop();
    // The change commits to PostgreSQL while Redis is down; publication waits for Redis.
    await admin.credentials.update(projectId, credentialId, { enabled: false });
    for (const gateway of gateways) {
      const stale = await callGateway(gateway, '/orders/3', { authorization: `Basic ${Buffer.from('shopper:shopper-password').toString('base64')}` });
      expect(stale.status).toBe(200); // still the last compiled config: Redis is gone, the gateway keeps serving
    }
    await cluster.redis.start();
    await bothAnswer('/orders/3', { authorization: `Basic ${Buffer.from('shopper:shopper-password').toString('base64')}` }, 401, 'change made during the outage arrives');
    const env = await admin.environments.named(ENV);
    for (const gateway of gateways) {
      const ready = await eventually(
        () => fetch(`${gateway.baseUrl}/health/ready`).then((r) => r.json()),
        (b: any) => b.revision === env.revision,
        { what: `${gateway.name} at revision ${env.revision}` },
      );
      expect(ready.revision).toBe(env.revision);
    }
  }, 90000);
});
