import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { EnvironmentConfigStore } from '@idm/config-bus';
import { PUBLICATION_LOCK_NAMESPACE } from '../src/config-publisher/config-publisher';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { removeEnvironmentKeys } from './support/redis-keys';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A credential change publishes only where it can matter: an environment that neither shows
 * the credential's project nor holds the credential is not compared, so its publication lock
 * (here held by "another Manager") is not waited for, while the environment that shows it is
 * published as before.
 */
describe('config publication of a credential change', () => {
  const suffix = randomBytes(4).toString('hex');
  const shown = `skip-a-${suffix}`;
  const other = `skip-b-${suffix}`;
  let database: TestDatabase;
  let manager: InProcessManager;
  let redis: Redis;
  let sql: Client;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    redis = new Redis(REDIS_URL);
    manager = await startInProcessManager(database);
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await manager?.close();
    await removeEnvironmentKeys(redis, shown, other);
    redis.disconnect();
    await database?.drop();
  }, 60_000);

  it('does not wait for an environment that neither shows nor holds the credential', async () => {
    for (const name of [shown, other]) expect((await manager.request('POST', '/api/v1/environments', { name })).status).toBe(201);
    const projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = { name: 'p', basePath: `/skip-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [shown] };
    expect((await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy)).status).toBe(201);
    const created = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice' });
    expect(created.status).toBe(201);
    const store = new EnvironmentConfigStore(redis);
    const before = (await store.load(other))!.revision;

    await sql.query('SELECT pg_advisory_lock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, other]);
    try {
      // Answers while the other environment's lock is held: its publication was not attempted.
      expect((await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${created.body.id}`, { enabled: false })).status).toBe(200);
    } finally {
      await sql.query('SELECT pg_advisory_unlock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, other]);
    }
    const published = (await store.load(shown))!;
    expect(published.credentials.find((c) => c.id === created.body.id)?.enabled).toBe(false);
    expect((await store.load(other))!.revision).toBe(before);
    expect((await store.load(other))!.credentials).toEqual([]);
  }, 120_000);
});
