#!/usr/bin/env node
// The Gateway's half of bench/scale.mjs without the Manager: N credentials (API keys) and P
// proxies written straight into a private redis-server as the Manager stores them
// (EnvironmentConfigStore.replace, in chunks), then two Gateways started one after the other
// (cold start, RSS, --trace-gc pauses), a 10-credential reference Gateway, the api-key hot path
// with N vs 10 credentials (rounds loading both at once, lib/hot-path-ratio.mjs), and C credential changes (disable one
// credential: EnvironmentConfigStore.apply + the `config.changed` event (on the environment's channel) as the Manager publishes
// it) timed until both Gateways refuse its key. For the sizes where the Manager's own boot
// publication does not finish on a loaded machine (1M). Prints one JSON object.
//
// Settings (env): BENCH_SCALE_CREDENTIALS=1000000 BENCH_SCALE_PROXIES=10000 BENCH_SCALE_CHANGES=200
//   BENCH_SCALE_ROUNDS=8 BENCH_CONNECTIONS=50 BENCH_DURATION=4 BENCH_WARMUP=2 BENCH_MAX_SECONDS=1800
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeFlipAgent, waitForFlip } from './lib/answer-flip.mjs';
import { startGateway } from './lib/gateway-process.mjs';
import { hotPathRatio } from './lib/hot-path-ratio.mjs';
import { percentile } from './lib/percentile.mjs';
import { rssKb } from './lib/processes.mjs';
import { startPrivateRedis } from './lib/redis.mjs';
import { runLifecycle } from './lib/run-lifecycle.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { EnvironmentConfigStore, configChangedChannel } = createRequire(import.meta.url)(join(root, 'libs/config-bus/dist/index.js'));
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const N = num('BENCH_SCALE_CREDENTIALS', 1_000_000);
const P = num('BENCH_SCALE_PROXIES', 10_000);
const CHANGES = num('BENCH_SCALE_CHANGES', 200);
const ROUNDS = num('BENCH_SCALE_ROUNDS', 8);
const load = { connections: num('BENCH_CONNECTIONS', 50), durationSec: num('BENCH_DURATION', 4), warmupSec: num('BENCH_WARMUP', 2) };
const HEADER = 'x-api-key';
const SMALL = 10;

const log = (msg) => process.stderr.write(`[gateway-scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const { tmp, defer, cleanup } = runLifecycle({ prefix: 'idm-gwscale-', maxSeconds: num('BENCH_MAX_SECONDS', 1800), log, beforeStop: closeFlipAgent });
const ms1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
const keyOf = (g) => `idm_${g.toString(16).padStart(8, '0')}_${createHash('md5').update(`gw:${g}`).digest('hex')}`;
const idOf = (g) => `00000000-0000-4000-8000-${g.toString(16).padStart(12, '0')}`;
const credential = (g, projectId, enabled = true) => ({
  id: idOf(g),
  projectId,
  username: `c${g}`,
  passwordHash: null,
  enabled,
  expiresAt: null,
  apiKeys: [{ id: randomUUID(), prefix: keyOf(g).slice(0, 12), hash: createHash('sha256').update(keyOf(g)).digest('hex'), expiresAt: null }],
  roles: [],
  metadata: [],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
});
const proxy = (i, tag, projectId, upstreamUrl) => ({
  id: `${tag}-proxy-${i}`,
  projectId,
  name: `${tag}${i}`,
  basePath: `/${tag}${i}`,
  upstreamUrl,
  methods: ['GET'],
  policies: [{ type: 'api-key', config: { header: HEADER, stripCredential: true } }],
  deployedAt: null,
});

/** One environment written as the Manager writes a full replacement: proxies, then credentials in chunks. */
async function writeEnvironment(store, environment, { tag, first, last, upstreamUrl }) {
  const projectId = randomUUID();
  await store.replace(environment, {
    epoch: `0000000001.${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    revision: 1,
    signingKeys: [],
    chunks: (async function* () {
      yield { proxies: Array.from({ length: P }, (_, i) => proxy(i, tag, projectId, upstreamUrl)) };
      for (let g = first; g <= last; g += 10_000) yield { credentials: Array.from({ length: Math.min(10_000, last - g + 1) }, (_, i) => credential(g + i, projectId)) };
    })(),
  });
  return { projectId, basePath: `/${tag}0` };
}

async function eventLoopMaxMs(gw) {
  const text = await (await fetch(`${gw.base}/metrics`)).text();
  const m = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(text);
  return m ? ms1(Number(m[1]) * 1000) : null;
}

async function main(result) {
  const { startProcess, waitForPortLine } = await import('./lib/processes.mjs');
  const upstream = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: join(tmp, 'upstream.log'), stdin: 'pipe' });
  const upstreamUrl = `http://127.0.0.1:${await waitForPortLine(upstream)}`;
  const redisServer = await startPrivateRedis(root, tmp);
  defer(redisServer.stop);
  const store = new EnvironmentConfigStore(redisServer.redis);
  const environment = `gwscale-${randomUUID().slice(0, 6)}`;
  let t0 = performance.now();
  const big = await writeEnvironment(store, environment, { tag: 'a', first: 1, last: N, upstreamUrl });
  const ref = await writeEnvironment(store, `${environment}-ref`, { tag: 'b', first: N + 1, last: N + SMALL, upstreamUrl });
  result.writeMs = Math.round(performance.now() - t0);
  log(`wrote ${N} credentials and ${P} proxies to Redis in ${(result.writeMs / 1000).toFixed(1)} s`);

  const gateways = [];
  for (const i of [1, 2]) {
    const gw = await startGateway(root, { environment, redisUrl: redisServer.url, logFile: join(tmp, `gateway-${i}.log`), readyTimeoutMs: 600_000, traceGc: true });
    log(`Gateway ${i}: ready after ${(gw.readyMs / 1000).toFixed(1)} s`);
    gateways.push(gw);
  }
  const reference = await startGateway(root, {
    environment: `${environment}-ref`,
    redisUrl: redisServer.url,
    logFile: join(tmp, 'gateway-ref.log'),
    readyTimeoutMs: 120_000,
    traceGc: true,
  });
  await new Promise((r) => setTimeout(r, 2000));
  const rss = gateways.map((gw) => rssKb(gw.pid) * 1024);
  const refRss = rssKb(reference.pid) * 1024;
  result.gateways = {
    coldStartMs: gateways.map((gw) => gw.readyMs),
    rssMb: rss.map((b) => Math.round(b / 2 ** 20)),
    referenceRssMb: Math.round(refRss / 2 ** 20),
    bytesPerCredential: Math.round((Math.max(...rss) - refRss) / (N - SMALL)),
  };
  log(`RSS ${result.gateways.rssMb.join(', ')} MB (reference ${result.gateways.referenceRssMb} MB)`);

  for (const gw of [...gateways, reference]) await eventLoopMaxMs(gw);
  const hot = Math.ceil(N / 2);
  result.hotPath = await hotPathRatio(
    root,
    { url: `${gateways[0].base}${big.basePath}/items`, headers: { [HEADER]: keyOf(hot) }, pid: gateways[0].pid },
    { url: `${reference.base}${ref.basePath}/items`, headers: { [HEADER]: keyOf(N + 1) }, pid: reference.pid },
    { rounds: ROUNDS, ...load },
    log,
  ).catch((err) => ({ failure: err.message }));
  const hotDelay = await eventLoopMaxMs(gateways[0]);
  const refDelay = await eventLoopMaxMs(reference);
  await eventLoopMaxMs(gateways[1]);

  // Changes: each disables one credential, written and announced as the Manager does.
  let revision = 1;
  const applied = [];
  for (let g = 1; g <= Math.min(CHANGES, N - 1); g++) {
    if (g === hot) continue;
    const change = {
      environment,
      epoch: (await store.head(environment)).epoch,
      revision: revision + 1,
      previousRevision: revision,
      proxies: { upserted: [], removed: [] },
      credentials: { upserted: [credential(g, big.projectId, false)], removed: [] },
    };
    const start = performance.now();
    const flips = gateways.map((gw) => waitForFlip(`${gw.base}${big.basePath}/items`, { [HEADER]: keyOf(g) }, start, start + 30_000));
    // As the Manager publishes: stored, logged and announced in one call.
    if (!(await store.apply(change, { announce: configChangedChannel(change.environment) }))) throw new Error(`change ${g} refused by the store`);
    revision++;
    const seen = await Promise.all(flips);
    if (seen.some((s) => s.ms === null)) throw new Error(`change ${g} not applied on both Gateways within 30 s`);
    applied.push(Math.max(...seen.map((s) => s.ms)));
  }
  result.changes = { measured: applied.length, appliedP50Ms: ms1(percentile(applied, 0.5)), appliedP99Ms: ms1(percentile(applied, 0.99)) };
  log(`changes: ${applied.length}, p50 ${result.changes.appliedP50Ms} ms, p99 ${result.changes.appliedP99Ms} ms`);
  result.pauses = {
    gcColdStart: gateways.map((gw) => gw.gc.longest(0, gw.readyMs)),
    gcServing: gateways.map((gw) => gw.gc.longest(gw.readyMs)),
    eventLoopHotPathMs: hotDelay,
    eventLoopChangesMs: await Promise.all(gateways.map(eventLoopMaxMs)),
    reference: { gcColdStart: reference.gc.longest(0, reference.readyMs), gcServing: reference.gc.longest(reference.readyMs), eventLoopHotPathMs: refDelay },
  };
}

const result = {
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, loadavgAtStart: loadavg().map((x) => Math.round(x * 10) / 10), node: process.version },
  settings: { N, P, CHANGES, ROUNDS, ...load },
};
let code = 1;
try {
  await main(result);
  code = 0;
} catch (err) {
  result.failure = err.message.slice(0, 500);
  log(`run failed: ${err.stack ?? err.message}`);
} finally {
  result.finishedAt = new Date().toISOString();
  result.loadavgAtEnd = loadavg().map((x) => Math.round(x * 10) / 10);
  await cleanup();
}
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
process.exit(code);
