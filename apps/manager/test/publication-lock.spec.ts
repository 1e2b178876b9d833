import { EnvironmentConfigStore } from '@idm/config-bus';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PUBLICATION_LOCK_NAMESPACE } from '../src/config-publisher/config-publisher';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Managers sharing one PostgreSQL publish an environment one after another: a publication waits
 * while another Manager (here: a plain connection holding the same advisory lock) publishes.
 */
describe('config publication across Managers (PostgreSQL advisory lock)', () => {
  let database: TestDatabase;
  let manager: InProcessManager;
  let redis: Redis;
  let other: Client;
  const suffix = randomBytes(4).toString('hex');
  const envName = `lock-${suffix}`;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    redis = new Redis(REDIS_URL);
    manager = await startInProcessManager(database);
    other = new Client({ connectionString: database.url });
    await other.connect();
  });

  afterAll(async () => {
    await other?.end();
    await manager?.close();
    await new EnvironmentConfigStore(redis).remove(envName);
    redis.disconnect();
    await database?.drop();
  });

  it('waits for the lock, then publishes what is committed by then', async () => {
    expect((await manager.request('POST', '/api/v1/environments', { name: envName })).status).toBe(201);
    const projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = (name: string) => ({ name, basePath: `/${name}-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [envName] });
    expect((await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy('first'))).status).toBe(201);
    const store = new EnvironmentConfigStore(redis);
    const before = (await store.load(envName))!;
    expect(before.proxies.map((p) => p.name)).toEqual(['first']);

    await other.query('SELECT pg_advisory_lock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, envName]);
    let answered = false;
    const creating = manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy('second')).then((res) => ((answered = true), res));
    await new Promise((r) => setTimeout(r, 1000));
    expect(answered).toBe(false); // committed, but its publication waits for the lock
    expect((await store.load(envName))!.revision).toBe(before.revision);

    // What no Gateway sees does not queue behind the waiting publication: a login, a new operator.
    const login = await manager.request('POST', '/api/v1/auth/login', { username: 'admin', password: 'correct-horse-battery' }, { token: null });
    expect(login.status).toBe(200);
    expect((await manager.request('POST', '/api/v1/users', { username: `op${suffix}`, password: 'operator-password' })).status).toBe(201);
    expect(answered).toBe(false);

    await other.query('SELECT pg_advisory_unlock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, envName]);
    expect((await creating).status).toBe(201);
    const after = (await store.load(envName))!;
    expect(after.revision).toBe(before.revision + 1);
    expect(after.proxies.map((p) => p.name).sort()).toEqual(['first', 'second']);
  });
});
