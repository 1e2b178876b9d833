import { EnvironmentConfigStore, configChangedChannel } from '@idm/config-bus';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { startInProcessManager, ADMIN, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe.each(['pglite', 'postgres'] as const)('Manager admin API on %s', (kind) => {
  let database: TestDatabase;
  let manager: InProcessManager;
  let redis: Redis;
  let subscriber: Redis;
  const messages: any[] = [];
  const suffix = randomBytes(4).toString('hex');
  const envName = `env-${suffix}`;
  let projectId: string;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    redis = new Redis(REDIS_URL);
    subscriber = new Redis(REDIS_URL);
    await subscriber.subscribe(configChangedChannel(envName));
    subscriber.on('message', (_channel, raw) => {
      const { data } = JSON.parse(raw);
      if (data?.environment === envName) messages.push(data);
    });
    manager = await startInProcessManager(database);
  });

  afterAll(async () => {
    await manager?.close();
    await new EnvironmentConfigStore(redis).remove(envName);
    redis.disconnect();
    subscriber.disconnect();
    await database?.drop();
  });

  describe('operator authentication', () => {
    it('rejects requests without a session and wrong passwords with problem+json', async () => {
      const anonymous = await manager.request('GET', '/api/v1/projects', undefined, { token: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['content-type']).toContain('application/problem+json');
      expect(anonymous.body.code).toBe('unauthenticated');
      const wrong = await manager.request('POST', '/api/v1/auth/login', { username: ADMIN.username, password: 'nope-nope' }, { token: null });
      expect(wrong.status).toBe(401);
      expect(wrong.body.code).toBe('invalid_login');
      const forged = await manager.request('GET', '/api/v1/projects', undefined, { token: 'idms_forged' });
      expect(forged.status).toBe(401);
    });

    it('makes one address wait after 10 failed logins for a username, without locking the operator out elsewhere', async () => {
      const login = (password: string, remoteAddress: string) =>
        manager.request('POST', '/api/v1/auth/login', { username: ADMIN.username, password }, { token: null, remoteAddress });
      const guesser = '198.51.100.7';
      for (let i = 0; i < 9; i++) expect((await login(`guess-${i}`, guesser)).status).toBe(401);
      expect((await login(ADMIN.password, guesser)).status).toBe(200); // a success clears the count
      for (let i = 0; i < 10; i++) expect((await login(`guess-${i}`, guesser)).status).toBe(401);
      const refused = await login(ADMIN.password, guesser); // even the right password: checked before it
      expect(refused.status).toBe(429);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.body).toMatchObject({ code: 'too_many_login_attempts', retryAfterSeconds: expect.any(Number) });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(800); // about 15 minutes
      // Without MANAGER_TRUST_PROXY a forged X-Forwarded-For changes nothing.
      const forged = await manager.request(
        'POST',
        '/api/v1/auth/login',
        { username: ADMIN.username, password: ADMIN.password },
        { token: null, remoteAddress: guesser, headers: { 'x-forwarded-for': '192.0.2.1' } },
      );
      expect(forged.status).toBe(429);
      expect((await login(ADMIN.password, '198.51.100.8')).status).toBe(200); // the operator, from elsewhere
    });

    it('stores the bootstrap admin password as argon2id only', async () => {
      const rows = await queryAll(database, manager, 'SELECT password_hash FROM operators');
      expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
      expect(JSON.stringify(rows)).not.toContain(ADMIN.password);
    });
  });

  describe('configuration lifecycle', () => {
    let proxyId: string;
    let credentialId: string;
    let apiKey: string;

    it('creates an environment, a project, a proxy and a credential, and publishes the snapshot', async () => {
      const env = await manager.request('POST', '/api/v1/environments', { name: envName });
      expect(env.status).toBe(201);
      const project = await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` });
      expect(project.status).toBe(201);
      projectId = project.body.id;

      const proxy = await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, {
        name: 'orders',
        basePath: `/orders-${suffix}`,
        upstreamUrl: 'http://127.0.0.1:9/base',
        methods: ['GET', 'POST'],
        policies: [{ type: 'api-key', config: { header: 'x-key' } }],
        environments: [envName],
      });
      expect(proxy.status).toBe(201);
      expect(proxy.body).toMatchObject({ name: 'orders', environments: [envName], methods: ['GET', 'POST'] });
      expect(proxy.body.policies[0]).toMatchObject({ type: 'api-key', config: { header: 'x-key' } });
      proxyId = proxy.body.id;

      const credential = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice', password: 'alice-secret-pw' });
      expect(credential.status).toBe(201);
      expect(credential.body.hasPassword).toBe(true);
      expect(credential.body).not.toHaveProperty('password');
      apiKey = credential.body.apiKey.key;
      credentialId = credential.body.id;
      expect(apiKey.startsWith(credential.body.apiKey.prefix + '_')).toBe(true);

      const snapshot = await new EnvironmentConfigStore(redis).load(envName);
      expect(snapshot?.proxies.map((p) => p.id)).toEqual([proxyId]);
      expect(snapshot?.credentials[0]).toMatchObject({ username: 'alice', enabled: true });
      expect(snapshot?.credentials[0].passwordHash).toMatch(/^\$argon2id\$/);
      expect(JSON.stringify(snapshot)).not.toContain(apiKey);
      expect(JSON.stringify(snapshot)).not.toContain('alice-secret-pw');
      const last = messages.at(-1);
      expect(last.revision).toBe(snapshot!.revision);
      expect(last.previousRevision).toBe(snapshot!.revision - 1);
    });

    it('shows an API key once and stores only its hash and prefix', async () => {
      const fetched = await manager.request('GET', `/api/v1/projects/${projectId}/credentials/${credentialId}`);
      expect(fetched.status).toBe(200);
      expect(JSON.stringify(fetched.body)).not.toContain(apiKey);
      expect(fetched.body.apiKeys).toHaveLength(1);
      const rows = await queryAll(database, manager, 'SELECT * FROM api_keys');
      expect(JSON.stringify(rows)).not.toContain(apiKey);
      const creds = await queryAll(database, manager, 'SELECT password_hash FROM credentials');
      expect(creds[0].password_hash).toMatch(/^\$argon2id\$/);
    });

    it('publishes each change as the next revision with a delta', async () => {
      const before = (await new EnvironmentConfigStore(redis).load(envName))!.revision;
      const disabled = await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled: false });
      expect(disabled.status).toBe(200);
      expect(disabled.body.enabled).toBe(false);
      const after = (await new EnvironmentConfigStore(redis).load(envName))!;
      expect(after.revision).toBe(before + 1);
      expect(after.credentials[0].enabled).toBe(false);
      await waitUntil(() => messages.some((m) => m.revision === before + 1));
      const message = messages.find((m) => m.revision === before + 1);
      expect(message.credentials.upserted.map((c: any) => c.id)).toEqual([credentialId]);
      expect(message.proxies.upserted).toEqual([]);

      const env = (await manager.request('GET', '/api/v1/environments')).body.find((e: any) => e.name === envName);
      expect(env.revision).toBe(before + 1);
    });

    it('updates and deletes a proxy, removing it from the snapshot', async () => {
      const updated = await manager.request('PATCH', `/api/v1/projects/${projectId}/proxies/${proxyId}`, { upstreamUrl: 'http://127.0.0.1:10/v2' });
      expect(updated.status).toBe(200);
      expect(updated.body.upstreamUrl).toBe('http://127.0.0.1:10/v2');
      expect((await new EnvironmentConfigStore(redis).load(envName))!.proxies[0].upstreamUrl).toBe('http://127.0.0.1:10/v2');
      const deleted = await manager.request('DELETE', `/api/v1/projects/${projectId}/proxies/${proxyId}`);
      expect(deleted.status).toBe(204);
      const snapshot = (await new EnvironmentConfigStore(redis).load(envName))!;
      expect(snapshot.proxies).toEqual([]);
      expect(snapshot.credentials).toEqual([]); // credentials travel only where their project has a proxy
      expect((await manager.request('GET', `/api/v1/projects/${projectId}/proxies/${proxyId}`)).status).toBe(404);
    });

    it('refuses to delete an environment that still has proxies deployed', async () => {
      await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, {
        name: 'pinned',
        basePath: `/pinned-${suffix}`,
        upstreamUrl: 'http://127.0.0.1:9',
        environments: [envName],
      });
      const env = (await manager.request('GET', '/api/v1/environments')).body.find((e: any) => e.name === envName);
      const refused = await manager.request('DELETE', `/api/v1/environments/${env.id}`);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('environment_in_use');
    });
  });

  describe('bad input', () => {
    const proxyBody = (over: Record<string, unknown> = {}) => ({
      name: `p-${randomBytes(3).toString('hex')}`,
      basePath: `/bp-${randomBytes(3).toString('hex')}`,
      upstreamUrl: 'http://127.0.0.1:9',
      ...over,
    });
    const proxiesUrl = () => `/api/v1/projects/${projectId}/proxies`;
    const proxyCount = async () => (await manager.request('GET', proxiesUrl())).body.length;

    it.each([
      ['malformed JSON', { rawBody: '{"name": ' }, 400, 'malformed_json'],
      ['a JSON array', { rawBody: '[1,2]' }, 400, 'body_required'],
    ])('answers %s with a problem', async (_label, options, status, code) => {
      const res = await manager.request('POST', '/api/v1/projects', undefined, options);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe(code);
    });

    it('rejects unknown fields and wrong types naming the field', async () => {
      const unknown = await manager.request('POST', '/api/v1/projects', { name: 'x-unknown', color: 'red' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.code).toBe('validation_failed');
      expect(unknown.body.errors[0].message).toContain('color');
      const wrongType = await manager.request('POST', proxiesUrl(), proxyBody({ methods: 'GET' }));
      expect(wrongType.status).toBe(400);
      expect(wrongType.body.errors.map((e: any) => e.path)).toContain('methods');
    });

    it('answers oversized bodies with 413', async () => {
      const res = await manager.request('POST', '/api/v1/projects', undefined, { rawBody: JSON.stringify({ name: 'big', description: 'x'.repeat(2 * 1024 * 1024) }) });
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('payload_too_large');
    });

    it.each([
      ['a relative upstream URL', { upstreamUrl: '/relative' }, 'upstreamUrl'],
      ['a non-http upstream URL', { upstreamUrl: 'ftp://example.test/x' }, 'upstreamUrl'],
      ['an upstream URL with credentials', { upstreamUrl: 'http://u:p@127.0.0.1/' }, 'upstreamUrl'],
      ['a base path without slash', { basePath: 'demo' }, 'basePath'],
      ['a base path with a trailing slash', { basePath: '/demo/' }, 'basePath'],
      ['a base path with dot segments', { basePath: '/a/../b' }, 'basePath'],
      ['a reserved base path', { basePath: '/health' }, 'basePath'],
      ['an unknown method', { methods: ['FETCH'] }, 'methods.0'],
      ['an unknown policy type', { policies: [{ type: 'magic', config: {} }] }, 'policies.0.type'],
      ['an unknown policy config field', { policies: [{ type: 'api-key', config: { nope: 1 } }] }, 'policies.0.config'],
      ['an unknown environment', { environments: ['does-not-exist'] }, 'environments.0'],
    ])('rejects %s and writes nothing', async (_label, override, path) => {
      const before = await proxyCount();
      const res = await manager.request('POST', proxiesUrl(), proxyBody(override));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors.some((e: any) => e.path.startsWith(path))).toBe(true);
      expect(await proxyCount()).toBe(before);
    });

    it('answers duplicate names and base paths with 409 and keeps the original', async () => {
      const first = await manager.request('POST', proxiesUrl(), proxyBody({ name: 'dupe' }));
      expect(first.status).toBe(201);
      const sameName = await manager.request('POST', proxiesUrl(), proxyBody({ name: 'dupe' }));
      expect(sameName.status).toBe(409);
      expect(sameName.body.code).toBe('name_taken');
      const samePath = await manager.request('POST', proxiesUrl(), proxyBody({ basePath: first.body.basePath }));
      expect(samePath.status).toBe(409);
      expect(samePath.body.code).toBe('base_path_taken');
      const dupProject = await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` });
      expect(dupProject.status).toBe(409);
      const dupUser = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice' });
      expect(dupUser.status).toBe(409);
      expect(dupUser.body.code).toBe('username_taken');
      expect((await manager.request('GET', `${proxiesUrl()}/${first.body.id}`)).body.name).toBe('dupe');
    });

    it('answers bad ids with 400 and missing entities with 404', async () => {
      expect((await manager.request('GET', '/api/v1/projects/not-a-uuid')).body.code).toBe('invalid_id');
      const missing = await manager.request('GET', '/api/v1/projects/00000000-0000-4000-8000-000000000000');
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe('project_not_found');
      const unknownRoute = await manager.request('GET', '/api/v1/nothing-here');
      expect(unknownRoute.status).toBe(404);
      expect(unknownRoute.headers['content-type']).toContain('application/problem+json');
    });

    it('rejects a too-short password and an invalid expiry', async () => {
      const res = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'bob', password: 'short', expiresAt: 'tomorrow' });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: any) => e.path).sort()).toEqual(['expiresAt', 'password']);
      expect((await manager.request('GET', `/api/v1/projects/${projectId}/credentials`)).body.map((c: any) => c.username)).toEqual(['alice']);
    });
  });

  describe('service endpoints', () => {
    it('serves an OpenAPI document listing the admin routes with their request schemas', async () => {
      const res = await manager.request('GET', '/api/v1/openapi.json', undefined, { token: null });
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      const create = res.body.paths['/api/v1/projects/{projectId}/proxies'].post;
      expect(create.requestBody.content['application/json'].schema.properties.basePath).toBeDefined();
      expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/v1/environments', '/api/v1/projects/{projectId}/credentials/{credentialId}']));
    });

    it('reports health and metrics', async () => {
      expect((await manager.request('GET', '/health/live', undefined, { token: null })).status).toBe(200);
      const ready = await manager.request('GET', '/health/ready', undefined, { token: null });
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ database: 'up', redis: 'up', databaseKind: kind });
      const metrics = await manager.request('GET', '/metrics', undefined, { token: null });
      expect(metrics.body).toContain('idm_manager_http_requests_total');
    });
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads rows straight from the database the Manager uses (server or PGlite). */
async function queryAll(database: TestDatabase, manager: InProcessManager, sql: string): Promise<any[]> {
  if (database.url) {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }
  const { Database } = await import('../src/database/database');
  const db = manager.app.get(Database).db;
  const { sql: raw } = await import('drizzle-orm');
  const result = (await db.execute(raw.raw(sql))) as unknown as { rows: any[] };
  return result.rows;
}
