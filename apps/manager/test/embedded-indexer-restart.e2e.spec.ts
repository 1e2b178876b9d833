import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess, eventually, freePort, RedisProcess, startEchoServer } from '@idm/test-kit';
import { AdminClient } from './support/admin-client';

/**
 * The auth record indexer inside a PGlite Manager (what `npm start` runs) loses nothing when the
 * Manager restarts mid-stream: a Gateway keeps answering and queuing records in Redis while the
 * Manager is down, and once it is back its consumer indexes them. Counted exactly (records have
 * idempotent ids, so a batch read before the stop and written again is not counted twice).
 */
describe('embedded auth record indexer across a Manager restart', () => {
  const ENV = 'indexer-restart';
  const ADMIN_PASSWORD = 'indexer-restart-admin';
  const REQUESTS = 60;
  let redis: RedisProcess;
  let manager: AppProcess;
  let gateway: AppProcess;
  let echo: { url: string; close(): Promise<void> };
  let dataDir: string;
  let admin: AdminClient;
  let streamKey: string;
  let streamerId: string;

  const login = async () => {
    admin = new AdminClient(manager.baseUrl);
    await admin.login('admin', ADMIN_PASSWORD);
  };
  /** Records of the streaming credential in the Manager's analytics (its own PGlite). */
  const indexed = async () => (await admin.analytics.auth({ environment: ENV, credentialId: streamerId })).total;

  beforeAll(async () => {
    // The embedded default: no server database, no Elasticsearch.
    expect([process.env.DATABASE_URL, process.env.ELASTICSEARCH_URL]).toEqual([undefined, undefined]);
    redis = new RedisProcess(await freePort());
    await redis.start();
    echo = await startEchoServer();
    dataDir = mkdtempSync(join(tmpdir(), 'idm-indexer-restart-'));
    const [managerPort, gatewayPort] = [await freePort(), await freePort()];
    manager = new AppProcess(
      'manager',
      'apps/manager/dist/main.js',
      {
        MANAGER_PORT: String(managerPort),
        MANAGER_HOST: '127.0.0.1',
        IDM_DATA_DIR: dataDir,
        REDIS_URL: redis.url,
        IDM_ADMIN_PASSWORD: ADMIN_PASSWORD,
        AUTH_RECORDS_INDEXER: 'auto',
        LOG_LEVEL: 'warn',
        UPSTREAM_ALLOW: '127.0.0.1',
      },
      `http://127.0.0.1:${managerPort}`,
    );
    await manager.start('/health/ready', 180_000);
    await login();
    await admin.environments.create({ name: ENV });
    const projectId = (await admin.projects.create({ name: 'indexed' })).id;
    await admin.proxies.create(projectId, { name: 'indexed', basePath: '/indexed', upstreamUrl: echo.url, environments: [ENV], policies: [{ type: 'api-key', config: {} }] });
    const streamer = await admin.credentials.create(projectId, { username: 'streamer' });
    streamKey = streamer.apiKey!.key;
    streamerId = streamer.id;
    gateway = AppProcess.gateway(
      'gateway',
      { GATEWAY_PORT: String(gatewayPort), GATEWAY_HOST: '127.0.0.1', GATEWAY_ENVIRONMENT: ENV, REDIS_URL: redis.url, LOG_LEVEL: 'warn', UPSTREAM_ALLOW: '127.0.0.1' },
      `http://127.0.0.1:${gatewayPort}`,
    );
    await gateway.start('/health/ready', 180_000);
    // Served once before counting starts: that one success is the streamer's first record (refusals before its key was published name no credential).
    await eventually(
      () => fetch(`${gateway.baseUrl}/indexed/x`, { headers: { 'x-api-key': streamKey } }).then((r) => r.status),
      (s) => s === 200,
      { what: 'the gateway serving the proxy', timeoutMs: 120_000 },
    );
  }, 480_000);

  afterAll(async () => {
    await Promise.all([gateway, manager].map((p) => p?.stop()));
    await redis?.stop();
    await echo?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('indexes every record queued while it was down, each once', async () => {
    const call = () => fetch(`${gateway.baseUrl}/indexed/x`, { headers: { 'x-api-key': streamKey } }).then((r) => r.status);
    // A third before the stop, a third while it stops, a third while it is down.
    for (let i = 0; i < REQUESTS / 3; i++) expect(await call()).toBe(200);
    const stopping = manager.stop();
    for (let i = 0; i < REQUESTS / 3; i++) expect(await call()).toBe(200);
    // A graceful stop: the Manager closes and exits with 0 ('exit' listeners run), not killed by the signal.
    expect(await stopping).toEqual({ code: 0, signal: null });
    for (let i = 0; i < REQUESTS / 3; i++) expect(await call()).toBe(200);

    await manager.start('/health/ready', 180_000);
    await login();
    const expected = REQUESTS + 1; // and the readiness probe's
    expect(await eventually(indexed, (n) => n >= expected, { what: `${expected} records indexed after the restart`, timeoutMs: 120_000, intervalMs: 500 })).toBe(expected);
  }, 480_000);
});
