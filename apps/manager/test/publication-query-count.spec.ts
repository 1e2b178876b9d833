import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { EnvironmentConfigStore } from '@idm/config-bus';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { countQueries, type QueryCounter } from './support/query-counter';
import { removeEnvironmentKeys } from './support/redis-keys';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * At a million credentials the Manager's cost per credential change is its SQL round trips
 * (issue #13's bench: ~42 ms of samples per change). A PATCH of one credential, with two
 * environments (one shows it, one does not), was 20 statements: 2 for the session, 6 for the
 * change and its audit row, 12 for the publication (the environments, the credential's projects,
 * their visibility, the lock, the environment's row, the credential, its keys, its token
 * settings, its visibility again, the revision). The publication now reads the environments with
 * the visibility of the credential's projects in one statement and the credential with its keys,
 * token settings and visibility in another: 15. The change's UPDATE returns the credential's keys
 * (a subquery in RETURNING) instead of reading them again after it: 14. More fails here; the
 * published entity and the response must stay what they were (keys with their expiry, token
 * settings), on a server and on PGlite.
 */
const STATEMENTS_PER_PATCH = 14;

describe.each(['postgres', 'pglite'] as const)('a credential PATCH and its publication (%s)', (kind) => {
  const suffix = randomBytes(4).toString('hex');
  const shown = `qc-a-${suffix}`;
  const other = `qc-b-${suffix}`;
  let database: TestDatabase;
  let manager: InProcessManager;
  let redis: Redis;
  let counter: QueryCounter;
  let projectId: string;
  let credentialId: string;
  let keys: { id: string; prefix: string; expiresAt: string | null }[];
  let keysShown: unknown[];
  const expiresAt = '2031-05-06T07:08:09.123Z';

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    redis = new Redis(REDIS_URL);
    counter = countQueries();
    manager = await startInProcessManager(database);
    for (const name of [shown, other]) expect((await manager.request('POST', '/api/v1/environments', { name })).status).toBe(201);
    projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = { name: 'p', basePath: `/qc-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [shown] };
    expect((await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy)).status).toBe(201);
    const created = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice' });
    expect(created.status).toBe(201);
    credentialId = created.body.id;
    const key = await manager.request('POST', `/api/v1/projects/${projectId}/credentials/${credentialId}/api-keys`, { expiresAt });
    expect(key.status).toBe(201);
    const settings = await manager.request('PUT', `/api/v1/projects/${projectId}/credentials/${credentialId}/token-settings`, { grants: ['client_credentials'] });
    expect(settings.status).toBe(200);
    const read = (await manager.request('GET', `/api/v1/projects/${projectId}/credentials/${credentialId}`)).body;
    keysShown = read.apiKeys;
    keys = (read.apiKeys as typeof keys).map(({ id, prefix, expiresAt }) => ({ id, prefix, expiresAt })).sort((a, b) => a.id.localeCompare(b.id));
    expect(keys.map((k) => k.expiresAt)).toContain(expiresAt);
  }, 120_000);

  afterAll(async () => {
    counter?.restore();
    await manager?.close();
    await removeEnvironmentKeys(redis, shown, other);
    redis.disconnect();
    await database?.drop();
  }, 60_000);

  const patch = async (enabled: boolean) => {
    const statements = await counter.statementsOf(async () => {
      const response = await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { enabled });
      expect(response.status).toBe(200);
      // The keys the UPDATE returned: the ones GET shows, in its order, with their timestamps.
      expect(response.body.apiKeys).toEqual(keysShown);
    });
    return statements;
  };

  it('publishes the credential with its keys and token settings to the environment that shows it only', async () => {
    await patch(false);
    const store = new EnvironmentConfigStore(redis);
    const published = (await store.load(shown))!.credentials.find((c) => c.id === credentialId);
    expect(published).toMatchObject({ enabled: false, tokenSettings: { grants: ['client_credentials'] } });
    // Every key, in id order, with its expiry as the API shows it and its hash.
    expect(published!.apiKeys.map(({ id, prefix, expiresAt }) => ({ id, prefix, expiresAt }))).toEqual(keys);
    for (const key of published!.apiKeys) expect(key.hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.load(other))!.credentials).toEqual([]);
  }, 60_000);

  if (kind === 'postgres')
    it(`sends at most ${STATEMENTS_PER_PATCH} SQL statements per PATCH, the publication's included`, async () => {
      for (const enabled of [true, false]) {
        const statements = await patch(enabled);
        // The counter saw the publication (it runs after the commit, behind the publication queue).
        expect(statements.filter((s) => s.includes('pg_advisory_xact_lock'))).toHaveLength(1);
        expect(statements.filter((s) => /\bfrom "credential_token_settings"|join "credential_token_settings"/i.test(s))).toHaveLength(1);
        if (statements.length > STATEMENTS_PER_PATCH)
          throw new Error(`${statements.length} statements:\n${statements.map((s) => s.replace(/\s+/g, ' ').slice(0, 160)).join('\n')}`);
      }
    }, 60_000);
});
