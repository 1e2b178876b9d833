#!/usr/bin/env node
// Indexer throughput into PostgreSQL (issue #17: >= 20k records/s on this machine): a private
// redis-server is filled with BENCH_RECORDS auth records in stream entries of 500 (as Gateways
// queue them), then one `apps/indexer` process (BENCH_INDEXERS for more) drains them into a
// database of the run's own on the local PostgreSQL; records/s = records / time from the
// indexer's "indexer running" to the queue's count reaching 0, checked against count(*).
// Loopback only; everything it made (database, redis-server, temp dir) is removed at the end,
// and a watchdog (BENCH_MAX_SECONDS) stops a run that hangs.
//
// Besides wall time it reports CPU seconds of the indexer processes and of their PostgreSQL
// backends (per record, what a shared machine's load does not change much).
//
// Settings (env): BENCH_RECORDS=300000  BENCH_INDEXERS=1  BENCH_READ_COUNT=20
//   BENCH_IN_FLIGHT (INDEXER_IN_FLIGHT; unset: the indexer's default)
//   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres  BENCH_MAX_SECONDS=300
//   BENCH_CPU_PROF_DIR=<dir>: the indexers run with --cpu-prof into it (bench/cpu-profile-top.mjs reads them)
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateRedis } from './lib/redis.mjs';
import { cpuSeconds, sampleProcess, startProcess, stopProcess } from './lib/processes.mjs';
import { runLifecycle } from './lib/run-lifecycle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'apps/indexer/package.json'));
const { Client } = require('pg');
const { AUTH_RECORDS_BATCH_FIELD, AUTH_RECORDS_QUEUED_KEY, AUTH_RECORDS_STREAM, authRecordEntryJson } = require('@idm/config-bus');
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const settings = {
  records: num('BENCH_RECORDS', 300_000),
  indexers: num('BENCH_INDEXERS', 1),
  readCount: num('BENCH_READ_COUNT', 20),
  inFlight: process.env.BENCH_IN_FLIGHT,
  cpuProfDir: process.env.BENCH_CPU_PROF_DIR,
  pgAdminUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  maxSeconds: num('BENCH_MAX_SECONDS', 300),
};
const log = (msg) => process.stderr.write(`[indexer-bench] ${msg}\n`);
const life = runLifecycle({ prefix: 'idm-indexer-bench-', maxSeconds: settings.maxSeconds, log });

async function admin(sql) {
  const client = new Client({ connectionString: settings.pgAdminUrl });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A record as a Gateway builds it (api-key decisions over a few proxies, credentials and addresses); an entry holds one Gateway's. */
function record(i, now, gateway) {
  const denied = i % 5 === 0;
  return {
    id: randomUUID(),
    time: now - (i % 60_000),
    environment: 'bench',
    gatewayId: `gw-${gateway}`,
    proxyId: `proxy-${i % 20}`,
    proxyName: `orders-${i % 20}`,
    projectId: `project-${i % 5}`,
    policy: 'api-key',
    outcome: denied ? 'denied' : 'success',
    reason: denied ? 'invalid_api_key' : null,
    status: denied ? 401 : 200,
    credentialId: denied ? null : `cred-${i % 1000}`,
    username: denied ? null : `client-${i % 1000}`,
    keyPrefix: `idm_${(i % 1000).toString(16).padStart(8, '0')}`,
    issuer: null,
    tokenType: null,
    clientIp: `198.51.100.${i % 250}`,
    country: null,
    userAgent: 'autocannon/8',
    requestId: randomBytes(8).toString('hex'),
    latencyMs: 0.05 + (i % 7) / 100,
    llm: null,
  };
}

async function main() {
  const database = `idm_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  life.defer(() => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  const url = new URL(settings.pgAdminUrl);
  url.pathname = `/${database}`;
  const redis = await startPrivateRedis(root, life.tmp);
  life.defer(() => redis.stop());

  log(`queueing ${settings.records} records in entries of 500`);
  const now = Date.now();
  for (let done = 0; done < settings.records;) {
    const pipeline = redis.redis.pipeline();
    for (let e = 0; e < 20 && done < settings.records; e++) {
      const n = Math.min(500, settings.records - done);
      const batch = Array.from({ length: n }, (_, k) => record(done + k, now, e % 4));
      // The entry format Gateways write (an envelope, positional rows).
      pipeline.xadd(AUTH_RECORDS_STREAM, '*', AUTH_RECORDS_BATCH_FIELD, authRecordEntryJson(batch));
      pipeline.incrby(AUTH_RECORDS_QUEUED_KEY, n);
      done += n;
    }
    await pipeline.exec();
  }

  const indexers = [];
  for (let i = 0; i < settings.indexers; i++) {
    const profiling = settings.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : [];
    const child = startProcess(process.execPath, [...profiling, join(root, 'apps/indexer/dist/main.js')], {
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        DATABASE_URL: url.toString(),
        ELASTICSEARCH_URL: '',
        INDEXER_CONSUMER: `bench-${i}`,
        INDEXER_READ_COUNT: String(settings.readCount),
        ...(settings.inFlight ? { INDEXER_IN_FLIGHT: settings.inFlight } : {}),
      },
      logFile: join(life.tmp, `indexer-${i}.log`),
    });
    indexers.push(child);
  }
  await Promise.all(
    indexers.map(async (child) => {
      for (let waited = 0; !/indexer running/.test(child.tail); waited += 50) {
        if (waited > 120_000 || child.exitCode !== null) throw new Error(`indexer did not start: ${child.tail.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  const samplers = indexers.map((child) => sampleProcess(child.pid, 500));
  const started = performance.now();
  for (;;) {
    const left = Number(await redis.redis.get(AUTH_RECORDS_QUEUED_KEY));
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  // The machine is shared: CPU time says what the indexer itself cost, whatever else ran.
  const indexerCpuSeconds = Number(samplers.reduce((sum, s) => sum + s.stop().cpuSeconds, 0).toFixed(2));
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  // The indexers' backends (their pools keep them open): CPU since each started, nearly all of it the inserts.
  const backends = (await client.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'idm-indexer'")).rows;
  const postgresCpuSeconds = Number(backends.reduce((sum, { pid }) => sum + cpuSeconds(pid), 0).toFixed(2));
  await Promise.all(indexers.map((child) => stopProcess(child)));
  const stored = Number((await client.query('SELECT count(*)::int AS n FROM auth_records')).rows[0].n);
  await client.end();
  const rate = Math.round(settings.records / seconds);
  const result = {
    records: settings.records,
    stored,
    indexers: settings.indexers,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSecond: rate,
    indexerCpuSeconds,
    recordsPerIndexerCpuSecond: Math.round(settings.records / indexerCpuSeconds),
    postgresBackends: backends.length,
    postgresCpuSeconds,
    recordsPerPipelineCpuSecond: Math.round(settings.records / (indexerCpuSeconds + postgresCpuSeconds)),
    inFlight: settings.inFlight ?? 'default',
    target: 20_000,
    met: rate >= 20_000 && stored === settings.records,
    machine: { cpus: cpus().length, loadavg: loadavg().map((l) => Number(l.toFixed(1))) },
  };
  process.stdout.write(
    [
      '| records | indexers | in flight | stored | seconds | records/s | target >= 20k/s | indexer CPU s | PostgreSQL CPU s | records per (indexer + PostgreSQL) CPU s | load avg (1/5/15) |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      `| ${result.records} | ${result.indexers} | ${result.inFlight} | ${result.stored} | ${result.seconds} | ${result.recordsPerSecond} | ${result.met ? 'met' : 'NOT met'} | ${indexerCpuSeconds} | ${postgresCpuSeconds} | ${result.recordsPerPipelineCpuSecond} | ${result.machine.loadavg.join(' / ')} |`,
      '',
    ].join('\n'),
  );
  process.stdout.write(JSON.stringify(result) + '\n');
  if (stored !== settings.records) process.exitCode = 1;
}

main()
  .catch((err) => {
    log(`failed: ${err.message}`);
    life.keepLogs();
    process.exitCode = 1;
  })
  .finally(() => life.cleanup());
