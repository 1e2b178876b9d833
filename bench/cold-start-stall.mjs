#!/usr/bin/env node
// The cold-start stall of issue #13, reproduced on purpose (bench/README.md, "cold start while the
// Manager reconciles"): a Gateway whose full load overlaps a Manager's boot reconciliation
// replays what was published meanwhile and receives the rest live. Three Gateways of one
// environment, started one after the other:
// - A as soon as the restarted Manager is ready (its load races the whole reconciliation);
// - M once A serves the last seeded credential: the reconciliation publishes in id order, so
//   that is a random point of it, usually mid-way (what scale.mjs once took for "published");
// - B once the environment's revision has stopped moving (the reconciliation is over).
// Each figure is the Gateway's longest event-loop delay from its start to a /metrics scrape once
// the reconciliation is over (prom-client's nodejs_eventloop_lag_max_seconds; target < 50 ms), and
// the Gateway's own figure for its last full load (idm_gateway_config_load_longest_delay_seconds).
//
// Settings (env): BENCH_SCALE_CREDENTIALS=200000 BENCH_SCALE_PROXIES=2000 BENCH_MAX_SECONDS=1200
//   BENCH_GATEWAY_NODE_ARGS (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'), BENCH_KEEP_LOGS=1 and
//   BENCH_GATEWAY_LOG_LEVEL=info (each 'config applied': mode, reason, changes replayed).
//   BENCH_ROOT: the checkout whose built Manager and Gateway run (default: this one), to compare builds.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeFlipAgent, waitForAccepted } from './lib/answer-flip.mjs';
import { gaugesMs } from './lib/gateway-gauges.mjs';
import { startGateway } from './lib/gateway-process.mjs';
import { createDatabase, postgres, startManager } from './lib/manager-process.mjs';
import { startProcess, stopProcess, waitForPortLine } from './lib/processes.mjs';
import { startPrivateRedis } from './lib/redis.mjs';
import { runLifecycle } from './lib/run-lifecycle.mjs';
import { API_KEY_HEADER, createEnvironment, seededKeys, seedRows } from './lib/scale-seed.mjs';
import { waitForSettledRevision } from './lib/settled-revision.mjs';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const root = resolve(process.env.BENCH_ROOT ?? here);
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const N = num('BENCH_SCALE_CREDENTIALS', 200_000);
const P = num('BENCH_SCALE_PROXIES', 2_000);

const log = (msg) => process.stderr.write(`[cold-start-stall ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const { tmp, defer, runToExit } = runLifecycle({ prefix: 'idm-stall-', maxSeconds: num('BENCH_MAX_SECONDS', 1200), log, beforeStop: closeFlipAgent });

/** From one scrape: the longest event-loop delay since the previous scrape (prom-client resets it on each) and the Gateway's own figure for its last full load (read to published), ms. */
const delaysMs = (gw) => gaugesMs(gw.base, 'nodejs_eventloop_lag_max_seconds', 'idm_gateway_config_load_longest_delay_seconds');

async function waitForKey(url, key, timeoutMs) {
  if (!(await waitForAccepted(url, { [API_KEY_HEADER]: key }, performance.now() + timeoutMs))) throw new Error(`key not accepted at ${url} within ${timeoutMs / 1000} s`);
}

async function main() {
  log(`root ${root}; N=${N}, P=${P}`);
  const upstream = startProcess(process.execPath, [join(here, 'bench/upstream.mjs')], { logFile: join(tmp, 'upstream.log'), stdin: 'pipe' });
  const upstreamUrl = `http://127.0.0.1:${await waitForPortLine(upstream)}`;
  const redis = await startPrivateRedis(here, tmp);
  defer(redis.stop);
  const pg = postgres(here);
  const db = await createDatabase(pg);
  defer(() => db.drop());
  const manager = await startManager(root, { databaseUrl: db.url, redisUrl: redis.url, logFile: join(tmp, 'manager.log'), readyTimeoutMs: 600_000 });
  const keys = seededKeys();
  const ctx = { api: manager.api, pg, databaseUrl: db.url, keys };
  const environment = `stall-${Math.random().toString(16).slice(2, 8)}`;
  const env = await createEnvironment(ctx, { environment, tag: 'a', upstreamUrl });
  await seedRows(ctx, env, { proxies: P, firstCredential: 1, lastCredential: N });
  log('seeded; restarting the Manager (its boot reconciliation publishes everything, page by page)');
  await stopProcess(manager.child);
  // Stopped with everything else at the end (processes.mjs tracks it).
  await startManager(root, { databaseUrl: db.url, redisUrl: redis.url, logFile: join(tmp, 'manager-2.log'), readyTimeoutMs: 600_000 });

  const start = (name) => startGateway(root, { environment, redisUrl: redis.url, logFile: join(tmp, `gateway-${name}.log`), readyTimeoutMs: 600_000, authRecords: false });
  const a = await start('a');
  log(`Gateway A (started with the reconciliation): ready after ${(a.readyMs / 1000).toFixed(1)} s`);
  await waitForKey(`${a.base}${env.basePath}/items`, keys.keyOf(N), 600_000);
  const m = await start('m');
  log(`Gateway M (started when A served the last seeded key): ready after ${(m.readyMs / 1000).toFixed(1)} s`);
  const settled = await waitForSettledRevision(redis.redis, environment);
  log(`the reconciliation is over (revision ${settled.revision})`);
  const [stallA, loadA] = await delaysMs(a);
  const [stallM, loadM] = await delaysMs(m);
  const b = await start('b');
  log(`Gateway B (started after the reconciliation): ready after ${(b.readyMs / 1000).toFixed(1)} s`);
  await waitForKey(`${b.base}${env.basePath}/items`, keys.keyOf(N), 60_000);
  const [stallB, loadB] = await delaysMs(b);
  const figures = { a: [stallA, loadA], m: [stallM, loadM], b: [stallB, loadB] };
  const line = Object.entries(figures)
    .map(([name, [stall, load]]) => `${name.toUpperCase()} ${load} ms (from its start: ${stall} ms)`)
    .join(', ');
  log(`longest event-loop delay of the full load (target < 50 ms): ${line}`);
  const json = (gw, [eventLoopMaxMs, fullLoadMs]) => ({ readyMs: gw.readyMs, eventLoopMaxMs, fullLoadMs });
  process.stdout.write(`${JSON.stringify({ root, N, P, revision: settled.revision, gatewayA: json(a, figures.a), gatewayM: json(m, figures.m), gatewayB: json(b, figures.b) })}\n`);
}

await runToExit(main);
