#!/usr/bin/env node
// Auth records on the proxy path (issue #17): (1) an api-key proxy's RPS with auth records on
// (AUTH_RECORDS=true, an indexer draining them into PostgreSQL) against off (AUTH_RECORDS=false),
// rounds alternated on/off/off/on, target on/off >= 0.95; (2) the Gateway's RSS while the indexer
// is down for BENCH_OUTAGE seconds (60) under the same full load, bounded by the queue's bound
// (AUTH_RECORDS_QUEUE_LIMIT, here 250,000, then records are dropped and counted): the drop
// counter is read from /metrics. A private redis-server, a database of the run's own on the local
// PostgreSQL, loopback only; everything is removed at the end and a watchdog stops a hung run.
//
// Settings (env): BENCH_CONNECTIONS=50 BENCH_DURATION=4 BENCH_ROUNDS=6 BENCH_OUTAGE=60
//   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres BENCH_MAX_SECONDS=600
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { runAutocannon } from './lib/load.mjs';
import { sampleProcess, startProcess, stopProcess, waitForPortLine } from './lib/processes.mjs';
import { startPrivateRedis } from './lib/redis.mjs';
import { median } from './lib/report.mjs';
import { runLifecycle } from './lib/run-lifecycle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'apps/indexer/package.json'));
const { Client } = require('pg');
const { EnvironmentConfigStore } = require('@idm/config-bus');
const { generateApiKey } = require(join(root, 'libs/domain/dist/index.js'));
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const settings = {
  connections: num('BENCH_CONNECTIONS', 50),
  durationSec: num('BENCH_DURATION', 4),
  rounds: num('BENCH_ROUNDS', 6),
  outageSec: num('BENCH_OUTAGE', 60),
  pgAdminUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  maxSeconds: num('BENCH_MAX_SECONDS', 600),
};
const QUEUE_LIMIT = 250_000;
const log = (msg) => process.stderr.write(`[auth-records-bench] ${msg}\n`);
const life = runLifecycle({ prefix: 'idm-auth-records-bench-', maxSeconds: settings.maxSeconds, log });

async function admin(sql) {
  const client = new Client({ connectionString: settings.pgAdminUrl });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function snapshot(environment, upstreamPort, apiKey) {
  const projectId = randomUUID();
  return {
    schemaVersion: 3,
    epoch: 'bench',
    environment,
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [
      {
        id: randomUUID(),
        projectId,
        name: 'bench',
        basePath: '/bench',
        upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
        methods: ['GET'],
        policies: [{ type: 'api-key', config: { header: 'x-api-key', queryParam: null, stripCredential: true } }],
      },
    ],
    credentials: [
      {
        id: randomUUID(),
        projectId,
        username: 'bench',
        passwordHash: null,
        enabled: true,
        expiresAt: null,
        apiKeys: [{ id: randomUUID(), prefix: apiKey.prefix, hash: apiKey.hash, expiresAt: null }],
      },
    ],
  };
}

async function startRecordingGateway(name, redisUrl, environment, records) {
  const gateway = await startGateway(root, {
    environment,
    redisUrl,
    logFile: join(life.tmp, `${name}.log`),
    readyTimeoutMs: 180_000,
    authRecords: records,
    env: { GATEWAY_ID: name, AUTH_RECORDS_QUEUE_LIMIT: String(QUEUE_LIMIT) },
  });
  return { ...gateway, url: `${gateway.base}/bench/items` };
}

function startIndexer(redisUrl, databaseUrl) {
  const child = startProcess(process.execPath, [join(root, 'apps/indexer/dist/main.js')], {
    env: { ...process.env, REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, ELASTICSEARCH_URL: '', INDEXER_CONSUMER: 'bench-indexer', LOG_LEVEL: 'warn' },
    logFile: join(life.tmp, 'indexer.log'),
  });
  return child;
}

async function droppedRecords(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  let dropped = 0;
  let queued = 0;
  for (const line of text.split('\n')) {
    const m = /^idm_gateway_auth_records_total\{result="([a-z_]+)"\} (\d+)/.exec(line);
    if (m && m[1].startsWith('dropped')) dropped += Number(m[2]);
    if (m && m[1] === 'queued') queued += Number(m[2]);
  }
  return { dropped, queued };
}

async function main() {
  const database = `idm_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  life.defer(() => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  const databaseUrl = new URL(settings.pgAdminUrl);
  databaseUrl.pathname = `/${database}`;
  const redis = await startPrivateRedis(root, life.tmp);
  life.defer(() => redis.stop());
  const upstreamChild = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: join(life.tmp, 'upstream.log'), stdin: 'pipe' });
  const upstreamPort = await waitForPortLine(upstreamChild);
  const apiKey = generateApiKey();
  const environment = `bench-${randomBytes(4).toString('hex')}`;
  await new EnvironmentConfigStore(redis.redis).write(snapshot(environment, upstreamPort, apiKey));
  let indexer = startIndexer(redis.url, databaseUrl.toString());
  const on = await startRecordingGateway('gw-records-on', redis.url, environment, true);
  const off = await startRecordingGateway('gw-records-off', redis.url, environment, false);
  const headers = { 'x-api-key': apiKey.key };
  const load = (gw, durationSec = settings.durationSec) => runAutocannon(root, { url: gw.url, connections: settings.connections, durationSec, headers });

  log('warm-up');
  await load(on, 2);
  await load(off, 2);
  const rounds = [];
  for (let i = 0; i < settings.rounds; i++) {
    const order = i % 2 === 0 ? [on, off] : [off, on];
    const r = {};
    for (const gw of order) r[gw === on ? 'on' : 'off'] = await load(gw);
    rounds.push({ on: r.on.rps, off: r.off.rps, ratio: Number((r.on.rps / r.off.rps).toFixed(3)), valid: r.on.valid && r.off.valid });
    log(`round ${i + 1}: on ${r.on.rps} rps, off ${r.off.rps} rps`);
  }

  log(`indexer outage: ${settings.outageSec} s under full load`);
  await stopProcess(indexer, 'SIGKILL');
  const before = await droppedRecords(on.base);
  const rss = sampleProcess(on.child.pid, 200);
  const outageLoad = await load(on, settings.outageSec);
  const during = rss.stop();
  const after = await droppedRecords(on.base);
  const queuedInRedis = Number(await redis.redis.get('{idm:auth-records}:queued'));
  indexer = startIndexer(redis.url, databaseUrl.toString());
  const client = new Client({ connectionString: databaseUrl.toString() });
  await client.connect();
  const stored = Number((await client.query('SELECT count(*)::int AS n FROM auth_records')).rows[0].n);
  await client.end();

  const ratio = median(rounds.filter((r) => r.valid).map((r) => r.ratio));
  const result = {
    settings,
    rounds,
    medianRatioOnOff: ratio,
    ratioTargetMet: ratio >= 0.95,
    outage: {
      seconds: settings.outageSec,
      rps: outageLoad.rps,
      requests: outageLoad.requests,
      gatewayMaxRssMb: during.maxRssMb,
      queuedDuring: after.queued - before.queued,
      droppedDuring: after.dropped - before.dropped,
      queuedInRedisAtEnd: queuedInRedis,
      queueLimit: QUEUE_LIMIT,
    },
    storedBeforeOutageEnded: stored,
    machine: { cpus: cpus().length, loadavg: loadavg().map((l) => Number(l.toFixed(1))) },
  };
  process.stdout.write(
    [
      '| | records on | records off | on/off (median) |',
      '|---|---|---|---|',
      ...rounds.map((r, i) => `| round ${i + 1} | ${r.on} rps | ${r.off} rps | ${r.ratio} |`),
      `| **median** | | | **${ratio}** (target >= 0.95: ${ratio >= 0.95 ? 'met' : 'NOT met'}) |`,
      '',
      `Indexer down ${settings.outageSec} s at full load: ${outageLoad.rps} rps, Gateway max RSS ${during.maxRssMb} MB, ${result.outage.queuedDuring} records queued and ${result.outage.droppedDuring} dropped (counted), ${queuedInRedis} waiting in Redis (bound ${QUEUE_LIMIT}).`,
      `Load average ${result.machine.loadavg.join(' / ')} on ${result.machine.cpus} cores.`,
      '',
    ].join('\n'),
  );
  process.stdout.write(JSON.stringify(result) + '\n');
  await stopProcess(indexer);
  await stopProcess(on.child);
  await stopProcess(off.child);
  upstreamChild.stdin.end();
}

main()
  .catch((err) => {
    log(`failed: ${err.message}`);
    life.keepLogs();
    process.exitCode = 1;
  })
  .finally(() => life.cleanup());
