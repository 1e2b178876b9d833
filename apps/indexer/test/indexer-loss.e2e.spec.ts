import { EnvironmentConfigStore } from '@idm/config-bus';
import { generateApiKey } from '@idm/domain';
import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  AppProcess,
  configSnapshot,
  eventually,
  freePort,
  PostgresProcess,
  RedisProcess,
  type RunningServer,
  snapshotCredential,
  snapshotProxy,
  startEchoServer,
} from '@idm/test-kit';

/**
 * Nothing lost, nothing twice: a Gateway answers a stream of requests while one of two indexers
 * is killed and restarted, the PostgreSQL sink is killed and restarted, and Redis (append-only,
 * fsync always) is killed and restarted; at the end the sink holds exactly one record per request.
 */
const REQUESTS = 3_000;

describe('auth records survive indexer, sink and Redis crashes (end to end)', () => {
  const environment = 'indexer-loss-e2e';
  const key = generateApiKey();
  const redisDir = mkdtempSync(join(tmpdir(), 'idm-redis-'));
  let redisServer: RedisProcess;
  let postgres: PostgresProcess;
  let echo: RunningServer;
  let gateway: AppProcess;
  const indexers: AppProcess[] = [];

  const indexer = (name: string) =>
    new AppProcess(
      name,
      'apps/indexer/dist/main.js',
      { REDIS_URL: redisServer.url, DATABASE_URL: postgres.url, INDEXER_CONSUMER: name, INDEXER_CLAIM_IDLE_MS: '1000', LOG_LEVEL: 'info', ELASTICSEARCH_URL: '' },
      '',
    );

  beforeAll(async () => {
    redisServer = new RedisProcess(await freePort(), { persistDir: redisDir });
    postgres = new PostgresProcess(await freePort());
    await Promise.all([redisServer.start(), postgres.init()]);
    echo = await startEchoServer();
    const redis = new Redis(redisServer.url);
    await new EnvironmentConfigStore(redis).write(
      configSnapshot({
        environment,
        epoch: 'e2e',
        revision: 1,
        proxies: [snapshotProxy({ id: 'p-key', projectId: 'proj', basePath: '/keyed', upstreamUrl: echo.url, policies: [{ type: 'api-key', config: {} }] })],
        credentials: [snapshotCredential({ id: 'c-alice', projectId: 'proj', username: 'alice', apiKeys: [{ id: 'k1', prefix: key.prefix, hash: key.hash, expiresAt: null }] })],
      }),
    );
    redis.disconnect();
    const port = await freePort();
    gateway = AppProcess.gateway(
      'gateway',
      {
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_ENVIRONMENT: environment,
        REDIS_URL: redisServer.url,
        UPSTREAM_ALLOW: '127.0.0.1',
        AUTH_RECORDS_FLUSH_MS: '20',
      },
      `http://127.0.0.1:${port}`,
    );
    await gateway.start();
    for (const name of ['indexer-a', 'indexer-b']) indexers.push(indexer(name));
    await Promise.all(indexers.map((i) => i.startUntilOutput(/indexer running/)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([gateway, ...indexers].map((p) => p?.stop('SIGKILL')));
    await redisServer?.stop();
    await postgres?.destroy();
    await echo?.close();
    rmSync(redisDir, { recursive: true, force: true });
  });

  async function count(): Promise<{ rows: number; requests: number }> {
    const client = new Client({ connectionString: postgres.url });
    try {
      await client.connect();
      const { rows } = await client.query<{ rows: string; requests: string }>(
        "SELECT count(*) AS rows, count(DISTINCT request_id) AS requests FROM auth_records WHERE environment = $1 AND request_id LIKE 'loss-%'",
        [environment],
      );
      return { rows: Number(rows[0].rows), requests: Number(rows[0].requests) };
    } catch {
      return { rows: -1, requests: -1 };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  it('indexes every record exactly once', async () => {
    let sent = 0;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (sent < REQUESTS) {
        const i = sent++;
        const res = await fetch(`${gateway.baseUrl}/keyed/x`, { headers: { 'x-api-key': key.key, 'x-request-id': `loss-${i}` } });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    const traffic = Promise.all(Array.from({ length: 8 }, worker));
    const reach = (n: number) =>
      eventually(
        async () => sent,
        (s) => s >= n,
        { what: `${n} requests sent`, timeoutMs: 120_000, intervalMs: 20 },
      );

    await reach(REQUESTS * 0.2);
    await indexers[0].stop('SIGKILL'); // indexer-a dies holding whatever it had read; indexer-b takes it over
    await reach(REQUESTS * 0.3);
    // Restarted mid-stream under the same name: it reads first what it had left pending (what indexer-b has not taken over yet).
    indexers[0] = indexer('indexer-a');
    await indexers[0].startUntilOutput(/indexer running/);
    await reach(REQUESTS * 0.4);
    await postgres.kill();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await postgres.start();
    await reach(REQUESTS * 0.6);
    await redisServer.stop(); // SIGKILL: the append-only file is all that survives
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redisServer.start();
    await traffic;
    expect(statuses).toEqual(new Map([[200, REQUESTS]]));

    const final = await eventually(count, (c) => c.rows >= REQUESTS, { what: `${REQUESTS} records in PostgreSQL`, timeoutMs: 120_000, intervalMs: 500 });
    // Settle: nothing more arrives (no duplicate is written late).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await count()).toEqual({ rows: REQUESTS, requests: REQUESTS });
    expect(final.rows).toBe(REQUESTS);
    const metrics = await (await fetch(`${gateway.baseUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/idm_gateway_auth_records_total\{result="dropped_/);
    const redis = new Redis(redisServer.url);
    try {
      expect(await redis.get('{idm:auth-records}:queued')).toBe('0');
      expect(await redis.xlen('{idm:auth-records}:stream')).toBe(0);
    } finally {
      redis.disconnect();
    }
  }, 300_000);
});
