import { configChangedChannel, EnvironmentConfigStore, environmentConfigKeys, type ConfigChangedMessage } from '@idm/config-bus';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PUBLICATION_LOCK_NAMESPACE, ConfigPublisher } from '../src/config-publisher/config-publisher';
import { CHANGE_ENTITIES, EnvironmentChanges } from '../src/config-publisher/environment-changes';
import { EnvironmentEntities } from '../src/config-publisher/environment-entities';
import type { Touched } from '../src/config-publisher/touched';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { removeEnvironmentKeys } from './support/redis-keys';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Rows written behind the Manager's back: three pages (PAGE = 1,000) for the reconciliation to publish. */
const SEEDED = 2_500;
/** Sorts before every random UUID: a credential no later page of a reconciliation can show. */
const EARLY_ID = '00000000-0000-4000-8000-000000000001';

const touchCredentials = (...ids: string[]): Touched => ({
  all: false,
  proxies: new Set(),
  credentials: new Set(ids),
  signingKeys: new Set(),
  keyManagers: false,
  identitySources: false,
});

/**
 * A reconciliation (boot, Redis back) of a large environment runs one page per turn of the
 * publication queue: a change committed meanwhile is published after the page in progress, not
 * after the whole environment, and the removal pass looks up again what the pages did not show.
 */
describe('config reconciliation, page by page', () => {
  const suffix = randomBytes(4).toString('hex');
  const environment = `paging-${suffix}`;
  let database: TestDatabase;
  let manager: InProcessManager;
  let redis: Redis;
  let subscriber: Redis;
  let sql: Client;
  let projectId: string;
  let environmentId: string;
  let aliceId: string;
  const messages: ConfigChangedMessage[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    redis = new Redis(REDIS_URL);
    subscriber = new Redis(REDIS_URL);
    await subscriber.subscribe(configChangedChannel(environment));
    subscriber.on('message', (_channel, json: string) => {
      const { data } = JSON.parse(json) as { data: ConfigChangedMessage };
      if (data.environment === environment) messages.push(data);
    });
    manager = await startInProcessManager(database);
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    const env = await manager.request('POST', '/api/v1/environments', { name: environment });
    expect(env.status).toBe(201);
    environmentId = env.body.id;
    projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = { name: 'p', basePath: `/paging-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [environment] };
    expect((await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy)).status).toBe(201);
    const alice = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice' });
    expect(alice.status).toBe(201);
    aliceId = alice.body.id;
    // Behind the Manager's back (as a restore or a bulk SQL load would): only a reconciliation publishes them.
    await sql.query(`INSERT INTO credentials (project_id, username) SELECT $1, 'seeded' || g FROM generate_series(1, ${SEEDED}) g`, [projectId]);
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await manager?.close();
    await subscriber?.quit();
    await removeEnvironmentKeys(redis, environment);
    redis.disconnect();
    await database?.drop();
  }, 60_000);

  it('publishes a change made during a reconciliation before the reconciliation ends', async () => {
    const publisher = manager.app.get(ConfigPublisher);
    const credentialsKey = environmentConfigKeys(environment).credentials;
    expect(await redis.hlen(credentialsKey)).toBe(1);
    // Another Manager publishing (the advisory lock held elsewhere) keeps the reconciliation's first page waiting.
    await sql.query('SELECT pg_advisory_lock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, environment]);
    let reconciled = false;
    messages.length = 0;
    const reconciling = publisher.publish().then(() => (reconciled = true));
    // A change committed now (what ChangeWriter does after its transaction): queued behind the first page only.
    await sql.query('UPDATE credentials SET enabled = false WHERE id = $1', [aliceId]);
    const changed = publisher.publish(touchCredentials(aliceId));
    await sql.query('SELECT pg_advisory_unlock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, environment]);

    await changed;
    expect(reconciled).toBe(false);
    expect(JSON.parse((await redis.hget(credentialsKey, aliceId))!)).toMatchObject({ enabled: false });

    await reconciling;
    expect(await redis.hlen(credentialsKey)).toBe(SEEDED + 1);
    // Several pages, each its own revision, and the change between them.
    const carrying = messages.filter((m) => m.credentials.upserted.length > 0);
    const aliceAt = carrying.findIndex((m) => m.credentials.upserted.some((c) => c.id === aliceId));
    expect(aliceAt).toBeGreaterThanOrEqual(0);
    expect(aliceAt).toBeLessThan(carrying.length - 1);
    // Each page (1,000 rows) in pieces a Gateway parses and applies in a short turn.
    expect(carrying.every((m) => m.credentials.upserted.length <= CHANGE_ENTITIES)).toBe(true);
    expect(carrying.length).toBeGreaterThanOrEqual(SEEDED / CHANGE_ENTITIES);
    // Revisions in a chain: each piece on top of the one before.
    for (let i = 1; i < messages.length; i++) expect(messages[i].previousRevision).toBe(messages[i - 1].revision);
  }, 120_000);

  it('removes only what the database no longer shows, looking up again what the pages did not see', async () => {
    const store = new EnvironmentConfigStore(redis);
    const credentialsKey = environmentConfigKeys(environment).credentials;
    const leftover = 'ffffffff-0000-4000-8000-000000000000'; // in Redis, in no database
    await redis.hset(credentialsKey, leftover, '{}');
    const pages = new EnvironmentChanges(manager.app.get(EnvironmentEntities), store, { id: environmentId, name: environment }).reconcile();
    // The proxies' page, then the first page of credentials: every later page starts after ids far above EARLY_ID.
    await pages.next();
    await pages.next();
    // Created and published between two pages (by this Manager or another).
    await sql.query('INSERT INTO credentials (id, project_id, username) VALUES ($1, $2, $3)', [EARLY_ID, projectId, 'early']);
    await manager.app.get(ConfigPublisher).publish(touchCredentials(EARLY_ID));
    expect(await redis.hexists(credentialsKey, EARLY_ID)).toBe(1);

    const removed: string[] = [];
    for await (const delta of pages) removed.push(...delta.credentials.removed);
    expect(removed).toEqual([leftover]);
  }, 120_000);
});
