#!/usr/bin/env node
// Auth records on the proxy path (issue #17): an api-key proxy's RPS with auth records on
// (AUTH_RECORDS=true) against off (AUTH_RECORDS=false), rounds alternated on/off/off/on, target
// on/off >= 0.95, measured two ways:
//   (1) co-located: the indexer drains into PostgreSQL during the timed runs, so the indexer and
//       PostgreSQL take CPU from the same cores as the Gateways and the load generator;
//   (2) Gateway-side: the indexer is frozen (SIGSTOP) during the timed runs and drains between
//       rounds (SIGCONT, until the queue is empty): the Gateway's own cost (build, serialize,
//       XADD into Redis), as in production where the indexer and its database run elsewhere.
// Then (3) the Gateway's RSS while the indexer is down for BENCH_OUTAGE seconds (60) under the
// same full load, bounded by the queue's bound (AUTH_RECORDS_QUEUE_LIMIT, here 250,000, then
// records are dropped and counted): the drop counter is read from /metrics. At the end the
// indexer drains everything and count(*) must equal the records the Gateway queued (its
// counter): every record of all three phases stored, once. A private redis-server, a database of
// the run's own on the local PostgreSQL, loopback only; everything is removed at the end and a
// watchdog stops a hung run.
//
// Settings (env): BENCH_CONNECTIONS=50 BENCH_DURATION=4 BENCH_ROUNDS=6 BENCH_OUTAGE=60
//   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres BENCH_MAX_SECONDS=900
//   BENCH_COLOCATED=0 skips phase (1) and BENCH_OUTAGE=0 phase (3), e.g. for a Gateway-side run
//   with BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=<dir>' (a profile per Gateway, on and off).
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
  colocated: num('BENCH_COLOCATED', 1) !== 0,
  outageSec: num('BENCH_OUTAGE', 60),
  pgAdminUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  maxSeconds: num('BENCH_MAX_SECONDS', 900),
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

  const queued = async () => Number(await redis.redis.get('{idm:auth-records}:queued'));
  /** The indexer has written everything queued so far (bounded: the watchdog ends a run that never drains). */
  const drained = async () => {
    while ((await queued()) > 0) await new Promise((r) => setTimeout(r, 50));
  };
  /** Alternated on/off rounds; `beforeRound`/`afterRound` wrap each round's two timed runs. */
  const measure = async (phase, { beforeRound = async () => {}, afterRound = async () => {} } = {}) => {
    log(`${phase}: warm-up`);
    await beforeRound();
    await load(on, 2);
    await load(off, 2);
    await afterRound();
    const rounds = [];
    for (let i = 0; i < settings.rounds; i++) {
      const order = i % 2 === 0 ? [on, off] : [off, on];
      const r = {};
      await beforeRound();
      for (const gw of order) {
        // The Gateway's CPU per request: what a shared machine's load distorts far less than RPS.
        const cpu = sampleProcess(gw.child.pid, 1_000);
        const run = await load(gw);
        run.cpuUsPerRequest = Math.round((cpu.stop().cpuSeconds * 1e6) / Math.max(1, run.requests));
        r[gw === on ? 'on' : 'off'] = run;
      }
      await afterRound();
      rounds.push({
        on: r.on.rps,
        off: r.off.rps,
        ratio: Number((r.on.rps / r.off.rps).toFixed(3)),
        onCpuUsPerRequest: r.on.cpuUsPerRequest,
        offCpuUsPerRequest: r.off.cpuUsPerRequest,
        valid: r.on.valid && r.off.valid,
      });
      log(`${phase} round ${i + 1}: on ${r.on.rps} rps, off ${r.off.rps} rps`);
    }
    const valid = rounds.filter((r) => r.valid);
    return {
      rounds,
      median: Number(median(valid.map((r) => r.ratio)).toFixed(3)),
      // off/on Gateway CPU per request: 1 when records cost the Gateway nothing.
      cpuRatio: Number(median(valid.map((r) => r.offCpuUsPerRequest / r.onCpuUsPerRequest)).toFixed(3)),
      loadavg: loadavg().map((l) => Number(l.toFixed(1))),
    };
  };

  /** The indexer killed for BENCH_OUTAGE s under full load, then restarted and drained. */
  const indexerOutage = async () => {
    log(`indexer outage: ${settings.outageSec} s under full load`);
    await stopProcess(indexer, 'SIGKILL');
    const before = await droppedRecords(on.base);
    const rss = sampleProcess(on.child.pid, 200);
    const outageLoad = await load(on, settings.outageSec);
    const during = rss.stop();
    const after = await droppedRecords(on.base);
    const queuedInRedis = await queued();
    indexer = startIndexer(redis.url, databaseUrl.toString());
    log('draining what queued during the outage');
    const drainStarted = performance.now();
    await drained();
    return {
      seconds: settings.outageSec,
      rps: outageLoad.rps,
      requests: outageLoad.requests,
      gatewayMaxRssMb: during.maxRssMb,
      queuedDuring: after.queued - before.queued,
      droppedDuring: after.dropped - before.dropped,
      queuedInRedisAtEnd: queuedInRedis,
      queueLimit: QUEUE_LIMIT,
      drainSeconds: Number(((performance.now() - drainStarted) / 1000).toFixed(1)),
    };
  };

  const colocated = settings.colocated ? await measure('co-located (indexer draining during the runs)') : null;
  await drained();
  const gatewaySide = await measure('Gateway-side (indexer frozen during the runs, drained between rounds)', {
    beforeRound: async () => {
      await drained();
      process.kill(indexer.pid, 'SIGSTOP');
    },
    afterRound: async () => {
      process.kill(indexer.pid, 'SIGCONT');
    },
  });
  await drained();

  const outage = settings.outageSec > 0 ? await indexerOutage() : null;
  const client = new Client({ connectionString: databaseUrl.toString() });
  await client.connect();
  // The Gateway's last in-memory batch may reach Redis after the first drain: compare again for a while.
  let stored, storedIds, queuedTotal;
  for (let attempt = 0; attempt < 40; attempt++) {
    queuedTotal = (await droppedRecords(on.base)).queued;
    await drained();
    ({ n: stored, ids: storedIds } = (await client.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM auth_records')).rows[0]);
    if (stored === queuedTotal) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await client.end();

  const table = (title, phase) => [
    `**${title}** (load average at its end ${phase.loadavg.join(' / ')})`,
    '',
    '| | records on | records off | on/off | Gateway CPU µs/request on | off |',
    '|---|---|---|---|---|---|',
    ...phase.rounds.map(
      (r, i) => `| round ${i + 1} | ${r.on} rps | ${r.off} rps | ${r.ratio}${r.valid ? '' : ' (invalid: errors)'} | ${r.onCpuUsPerRequest} | ${r.offCpuUsPerRequest} |`,
    ),
    `| **median** | | | **${phase.median}** (target >= 0.95: ${phase.median >= 0.95 ? 'met' : 'NOT met'} on this run) | off/on CPU per request: ${phase.cpuRatio} | |`,
    '',
  ];
  const result = {
    settings,
    colocated,
    gatewaySide,
    outage,
    recordsQueuedByGateway: queuedTotal,
    stored,
    storedDistinct: storedIds,
    everyRecordStoredOnce: stored === queuedTotal && storedIds === stored,
    machine: { cpus: cpus().length, loadavg: loadavg().map((l) => Number(l.toFixed(1))) },
  };
  process.stdout.write(
    [
      ...(colocated === null ? [] : table('Co-located: indexer and PostgreSQL draining on the same cores during the timed runs', colocated)),
      ...table('Gateway-side: indexer frozen during the timed runs, drained between rounds', gatewaySide),
      ...(outage === null
        ? []
        : [
            `Indexer down ${outage.seconds} s at full load: ${outage.rps} rps, Gateway max RSS ${outage.gatewayMaxRssMb} MB, ${outage.queuedDuring} records queued and ${outage.droppedDuring} dropped (counted), ${outage.queuedInRedisAtEnd} waiting in Redis (bound ${QUEUE_LIMIT}); drained in ${outage.drainSeconds} s after the restart.`,
          ]),
      `Stored at the end: ${stored} rows (${storedIds} distinct ids) for ${queuedTotal} records the Gateway queued over all phases: ${result.everyRecordStoredOnce ? 'every record stored once' : 'MISMATCH'}.`,
      `Load average ${result.machine.loadavg.join(' / ')} on ${result.machine.cpus} cores at the end.`,
      '',
    ].join('\n'),
  );
  process.stdout.write(JSON.stringify(result) + '\n');
  if (!result.everyRecordStoredOnce) process.exitCode = 1;
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
