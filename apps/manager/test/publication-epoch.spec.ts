import { EnvironmentConfigStore } from '@idm/config-bus';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { createEchoServer, AppProcess, eventually, freePort } from '@idm/test-kit';
import { UPSTREAM_OPT_IN } from './support/cluster';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { removeEnvironmentKeys } from './support/redis-keys';
import { adminQuery, createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A Manager whose database is younger than what Redis holds (a fresh database after
 * `rm -rf .data`, a backup restored after later changes) publishes revisions lower than those in
 * Redis. Publications are ordered by (epoch, revision), so such a Manager starts a new epoch and
 * the Gateway (a real process) moves to its config instead of keeping the old one. On a
 * PostgreSQL server and on PGlite (`npm start`'s `.data`: `rm -rf .data`, or a copy put back).
 */
describe.each(['postgres', 'pglite'] as const)('a fresh or restored Manager database takes over the published config (%s)', (kind) => {
  const suffix = randomBytes(4).toString('hex');
  const environment = `epoch-${suffix}`;
  const databases: TestDatabase[] = [];
  const backupName = `idm_test_backup_${suffix}`;
  const backupDir = mkdtempSync(join(tmpdir(), 'idm-backup-'));
  let redis: Redis;
  let store: EnvironmentConfigStore;
  let echo: Server;
  let echoUrl: string;
  let gateway: AppProcess;
  let manager: InProcessManager | undefined;

  const startManager = async (database: TestDatabase) => {
    manager = await startInProcessManager(database);
    return manager;
  };
  /** The published config stays in Redis for the next Manager: that is the scenario. */
  const stopManager = async () => {
    await manager?.close({ keepPublishedConfig: true });
    manager = undefined;
  };
  /** Creates the environment (if asked), a project and one proxy per base path, deployed there. */
  const publishProxies = async (m: InProcessManager, basePaths: string[], createEnvironment: boolean) => {
    if (createEnvironment) expect((await m.request('POST', '/api/v1/environments', { name: environment })).status).toBe(201);
    const projectId = (await m.request('POST', '/api/v1/projects', { name: `proj-${randomBytes(3).toString('hex')}` })).body.id;
    for (const basePath of basePaths) {
      const res = await m.request('POST', `/api/v1/projects/${projectId}/proxies`, { name: basePath.slice(1), basePath, upstreamUrl: echoUrl, environments: [environment] });
      expect(res.status).toBe(201);
    }
  };
  const status = async (path: string) => (await fetch(gateway.baseUrl + path)).status;
  const serves = (served: string[], gone: string[], what: string) =>
    eventually(
      async () => Promise.all([...served, ...gone].map(status)),
      (codes) => codes.every((code, i) => (i < served.length ? code === 200 : code === 404)),
      { timeoutMs: 30_000, what },
    );
  const p = (name: string) => `/${name}-${suffix}`;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    store = new EnvironmentConfigStore(redis);
    echo = createEchoServer();
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await stopManager();
    await gateway?.stop();
    await removeEnvironmentKeys(redis, environment);
    redis.disconnect();
    await new Promise((r) => echo.close(r));
    for (const database of databases) await database.drop();
    await adminQuery(`DROP DATABASE IF EXISTS ${backupName} WITH (FORCE)`);
    rmSync(backupDir, { recursive: true, force: true });
  }, 60_000);

  /** A copy of a database nobody writes to: CREATE DATABASE ... TEMPLATE, or the PGlite files. */
  const backup = async (database: TestDatabase) => {
    if (kind === 'pglite') return cpSync(database.dataDir, backupDir, { recursive: true });
    await eventually(() => adminQuery(`CREATE DATABASE ${backupName} TEMPLATE ${databaseName(database)}`).then(() => true), Boolean, { what: 'the backup copy' });
  };
  const restoredFrom = (database: TestDatabase): TestDatabase =>
    kind === 'pglite' ? { ...database, dataDir: backupDir } : { ...database, url: withDatabase(database.url!, backupName) };

  it('a Manager on a fresh database supersedes a higher revision from the previous database', async () => {
    const first = await createTestDatabase(kind);
    databases.push(first);
    const a = await startManager(first);
    await publishProxies(a, [p('a1'), p('a2'), p('a3')], true);
    const old = (await store.head(environment))!;
    expect(old.revision).toBeGreaterThanOrEqual(3);

    const port = await freePort();
    gateway = AppProcess.gateway(
      'gateway',
      { GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', GATEWAY_ENVIRONMENT: environment, REDIS_URL, CONFIG_POLL_INTERVAL_MS: '500', LOG_LEVEL: 'warn', ...UPSTREAM_OPT_IN },
      `http://127.0.0.1:${port}`,
    );
    await gateway.start('/health/ready', 60_000);
    await serves([p('a1'), p('a3')], [p('b1')], 'the first database config');
    await stopManager();

    const fresh = await createTestDatabase(kind);
    databases.push(fresh);
    const b = await startManager(fresh);
    await publishProxies(b, [p('b1')], true);
    await serves([p('b1')], [p('a1'), p('a3')], "the fresh database's config");
    const head = (await store.head(environment))!;
    expect(head.epoch > old.epoch).toBe(true);
    expect(head.revision).toBeLessThan(old.revision);
  }, 120_000);

  it('a Manager on a database restored from a backup supersedes the later revisions', async () => {
    const live = databases[databases.length - 1];
    await stopManager();
    await backup(live);
    const backupRevision = (await store.head(environment))!.revision;

    const b = await startManager(live);
    await publishProxies(b, [p('b2'), p('b3')], false);
    await serves([p('b1'), p('b3')], [], 'the changes made after the backup');
    const later = (await store.head(environment))!;
    expect(later.revision).toBeGreaterThan(backupRevision);
    await stopManager();

    await startManager(restoredFrom(live));
    await serves([p('b1')], [p('b2'), p('b3')], 'the restored config');
    const head = (await store.head(environment))!;
    expect(head.epoch > later.epoch).toBe(true);
    expect(head.revision).toBeLessThanOrEqual(backupRevision + 1);
  }, 120_000);

  it('a Manager still running after another database took over publishes nothing (no flapping)', async () => {
    await stopManager();
    const owner = (await store.head(environment))!;
    const stale = await startManager(databases[0]); // the first database, older epoch; it takes over at boot
    await serves([p('a1')], [p('b1')], 'the first database again, taken over at boot');
    const taken = (await store.head(environment))!;
    expect(taken.epoch > owner.epoch).toBe(true);

    const other = await createTestDatabase(kind);
    databases.push(other);
    const newer = await startInProcessManager(other);
    try {
      await publishProxies(newer, [p('c1')], true);
      await serves([p('c1')], [p('a1')], 'the newest database');
      const newest = (await store.head(environment))!;
      await publishProxies(stale, [p('a4')], false); // committed there, but no longer published from there
      await new Promise((r) => setTimeout(r, 1000));
      expect(await store.head(environment)).toEqual(newest);
      expect(await status(p('a4'))).toBe(404);
    } finally {
      await newer.close({ keepPublishedConfig: true });
    }
  }, 120_000);
});

const databaseName = (database: TestDatabase) => new URL(database.url!).pathname.slice(1);
const withDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();
