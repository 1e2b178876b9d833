import { generateApiKey, hashApiKey } from '@idm/domain';
import { eventually } from '@idm/test-kit';
import * as argon2 from 'argon2';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { listenConfigChanged, type ConfigChangedListener } from './support/config-changed-listener';
import { removeEnvironmentKeys } from './support/redis-keys';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Bulk import (`POST /projects/{id}/credentials/import`): all entries or none, secrets as SHA-256
 * keys and finished argon2id hashes, one audit event, and a publication of exactly the imported
 * credentials, read off the bus the way a Gateway receives it.
 */
describe('credential bulk import', () => {
  const suffix = randomBytes(4).toString('hex');
  const environment = `import-${suffix}`;
  let database: TestDatabase;
  let manager: InProcessManager;
  let redis: Redis;
  let bus: ConfigChangedListener;
  let messages: ConfigChangedListener['messages'];
  let projectId: string;
  let existingKey: string;
  let passwordHash: string;

  const importUrl = () => `/api/v1/projects/${projectId}/credentials/import`;
  const usernames = async () => ((await manager.request('GET', `/api/v1/projects/${projectId}/credentials?limit=500`)).body as { username: string }[]).map((c) => c.username);

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    redis = new Redis(REDIS_URL);
    bus = await listenConfigChanged(REDIS_URL, environment);
    messages = bus.messages;
    manager = await startInProcessManager(database);
    passwordHash = await argon2.hash('imported-password', { type: argon2.argon2id });
    expect((await manager.request('POST', '/api/v1/environments', { name: environment })).status).toBe(201);
    projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, {
      name: 'p',
      basePath: `/import-${suffix}`,
      upstreamUrl: 'http://127.0.0.1:9',
      environments: [environment],
    });
    expect(proxy.status).toBe(201);
    const existing = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'existing' });
    expect(existing.status).toBe(201);
    existingKey = existing.body.apiKey.key;
    // Its publication must be over before a test counts what an import publishes.
    await eventually(
      async () => messages,
      (m) => m.some((message) => message.credentials.upserted.some((c) => c.username === 'existing')),
      { what: "the existing credential's publication" },
    );
  }, 120_000);

  afterAll(async () => {
    await manager?.close();
    await bus?.close();
    await removeEnvironmentKeys(redis, environment);
    redis.disconnect();
    await database?.drop();
  }, 60_000);

  it('imports 100 credentials in one request and publishes exactly those', async () => {
    const keys = Array.from({ length: 100 }, () => generateApiKey().key);
    const entries = keys.map((key, i) => ({
      username: `bulk-${i}`,
      apiKeys: [key],
      roles: ['reader'],
      metadata: [
        { key: 'origin', value: 'legacy' },
        { key: 'pin', value: '1234', secret: true },
      ],
    }));
    entries[0] = { ...entries[0], passwordHash, enabled: false, expiresAt: '2099-01-01T00:00:00.000Z' } as (typeof entries)[0];
    messages.length = 0;

    const res = await manager.request('POST', importUrl(), { credentials: entries });
    expect(res.status).toBe(201);
    expect(res.body.imported).toBe(100);
    expect(res.body.credentials.map((c: { username: string }) => c.username)).toEqual(entries.map((e) => e.username));

    const first = await manager.request('GET', `/api/v1/projects/${projectId}/credentials/${res.body.credentials[0].id}`);
    expect(first.body).toMatchObject({ username: 'bulk-0', hasPassword: true, enabled: false, expiresAt: '2099-01-01T00:00:00.000Z', roles: ['reader'] });
    expect(first.body.apiKeys.map((k: { prefix: string }) => k.prefix)).toEqual([keys[0].slice(0, 12)]);
    expect(first.body.metadata).toEqual([expect.objectContaining({ key: 'origin', value: 'legacy' }), expect.not.objectContaining({ value: expect.anything() })]);

    // What a Gateway receives: the 100 imported credentials (not the existing one), with the
    // key as SHA-256 and the hash as given.
    const upserted = await eventually(
      async () => messages.flatMap((m) => m.credentials.upserted),
      (u) => u.length >= 100,
      { what: 'the imported credentials on the bus' },
    );
    expect(upserted.map((c) => c.username).sort()).toEqual(entries.map((e) => e.username).sort());
    expect(messages.flatMap((m) => m.credentials.removed)).toEqual([]);
    const published = upserted.find((c) => c.username === 'bulk-0')!;
    expect(published.passwordHash).toBe(passwordHash);
    expect(published.apiKeys.map((k) => k.hash)).toEqual([hashApiKey(keys[0])]);
  }, 60_000);

  it('writes one credential.import audit event with the usernames and no secrets', async () => {
    const key = generateApiKey().key;
    const res = await manager.request('POST', importUrl(), {
      credentials: [
        { username: 'audited-a', apiKeys: [key] },
        { username: 'audited-b', passwordHash },
      ],
    });
    expect(res.status).toBe(201);
    const [event] = (await manager.request('GET', '/api/v1/audit?limit=1')).body.items;
    expect(event).toMatchObject({ action: 'credential.import', entity: { kind: 'credential', id: null, projectId } });
    expect(event.diff).toEqual({ count: { old: null, new: 2 }, usernames: { old: null, new: ['audited-a', 'audited-b'] } });
    const stored = JSON.stringify(event);
    for (const secret of [key, hashApiKey(key), passwordHash]) expect(stored).not.toContain(secret);
  }, 30_000);

  it('answers 409 naming every conflicting entry and writes nothing', async () => {
    const repeated = generateApiKey().key;
    const before = await usernames();
    const res = await manager.request('POST', importUrl(), {
      credentials: [
        { username: 'fresh-1', apiKeys: [repeated] },
        { username: 'existing' },
        { username: 'fresh-2', apiKeys: [repeated] },
        { username: 'fresh-1' },
        { username: 'fresh-3', apiKeys: [existingKey] },
      ],
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('import_conflict');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'credentials.1.username',
      'credentials.2.apiKeys.0',
      'credentials.3.username',
      'credentials.4.apiKeys.0',
    ]);
    expect(JSON.stringify(res.body)).not.toContain(repeated);
    expect(await usernames()).toEqual(before);
  }, 30_000);

  it('accepts a full request of 10,000 credentials, a body larger than MANAGER_BODY_LIMIT', async () => {
    const credentials = Array.from({ length: 10_000 }, (_, i) => ({
      username: `full-${i}`,
      apiKeys: [generateApiKey().key],
      description: 'imported from the legacy gateway, batch 1',
    }));
    expect(JSON.stringify({ credentials }).length).toBeGreaterThan(1024 * 1024); // the default limit
    const res = await manager.request('POST', importUrl(), { credentials });
    expect(res.status).toBe(201);
    expect(res.body.imported).toBe(10_000);
  }, 60_000);

  it('refuses more than 10,000 credentials in one request with 413', async () => {
    const res = await manager.request('POST', importUrl(), { credentials: Array.from({ length: 10_001 }, (_, i) => ({ username: `over-${i}` })) });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('import_too_large');
    expect(await usernames()).not.toContain('over-0');
  }, 30_000);

  it('refuses a plaintext password, pointing at the normal create', async () => {
    const res = await manager.request('POST', importUrl(), { credentials: [{ username: 'plain-ok' }, { username: 'plain', password: 'a-long-password' }] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('plaintext_password_refused');
    expect(res.body.detail).toContain('POST /credentials');
    expect(res.body.errors).toEqual([{ path: 'credentials.1.password', message: expect.any(String) }]);
    expect(JSON.stringify(res.body)).not.toContain('a-long-password');
  });

  it('refuses a password hash that is not argon2id in PHC form', async () => {
    for (const bad of [
      '$2b$10$abcdefghijklmnopqrstuuMVhXxkMDYfVJiVY6dUhJQPwzWd0O4y',
      passwordHash.replace('$argon2id$', '$argon2i$'),
      passwordHash.replace(/m=\d+/, 'm=99999999'),
      'plain-text',
    ]) {
      const res = await manager.request('POST', importUrl(), { credentials: [{ username: 'hashed', passwordHash: bad }] });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors[0].path).toBe('credentials.0.passwordHash');
    }
    const badKey = await manager.request('POST', importUrl(), { credentials: [{ username: 'keyed', apiKeys: ['not-our-format'] }] });
    expect(badKey.status).toBe(400);
    expect(badKey.body.errors[0].path).toBe('credentials.0.apiKeys.0');
    expect(await usernames()).not.toContain('hashed');
  });

  it('answers 403 naming credential:write to an operator who may only read credentials', async () => {
    const role = await manager.request('POST', '/api/v1/roles', { name: `reader-${suffix}`, permissions: ['credential:read'] });
    const user = await manager.request('POST', '/api/v1/users', { username: `reader${suffix}`, password: 'reader-password-1' });
    expect(
      (await manager.request('POST', '/api/v1/role-bindings', { roleId: role.body.id, subject: { type: 'user', id: user.body.id }, scope: { type: 'project', id: projectId } }))
        .status,
    ).toBe(201);
    const { token } = (await manager.request('POST', '/api/v1/auth/login', { username: `reader${suffix}`, password: 'reader-password-1' }, { token: null })).body;
    const res = await manager.request('POST', importUrl(), { credentials: [{ username: 'forbidden' }] }, { token });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'permission_denied', permission: 'credential:write' });
    expect(await usernames()).not.toContain('forbidden');
  }, 30_000);
});
