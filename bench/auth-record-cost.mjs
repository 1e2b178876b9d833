#!/usr/bin/env node
// A record's CPU cost on the Gateway, in process (issue #17): the real AuthRecordFactory and
// AuthRecordQueue against a private redis-server, no HTTP, so a loaded machine distorts it far
// less than the RPS ratio of bench/auth-records.mjs. Each tick makes BENCH_PER_TICK request-like
// short-lived allocations (headers, ids, a context object), builds and reports a record for each
// (variants below), then flushes the queue to Redis as the Gateway's timer does; CPU is
// process.cpuUsage (user + system, the socket writes included) per request. Variants run
// alternated, BENCH_REPEATS times each; the median is reported.
//
//   none     the requests only, no record
//   factory  + the record built (AuthRecordFactory), nothing queued
//   queue    + queued and flushed by this tree's AuthRecordQueue (apps/gateway/dist)
//   before   + the same with the AuthRecordQueue of BENCH_BEFORE=<a copy of an older
//            apps/gateway/dist/auth-records> (optional: compare builds in one process)
//
// Settings (env): BENCH_PER_TICK=1000 BENCH_TICKS=100 BENCH_REPEATS=7 BENCH_VARIANTS=none,factory,queue[,before]
// (a profile: node --cpu-prof bench/auth-record-cost.mjs with BENCH_VARIANTS=queue)
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateRedis } from './lib/redis.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'apps/gateway/package.json'));
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const PER_TICK = num('BENCH_PER_TICK', 1000);
const TICKS = num('BENCH_TICKS', 100);
const REPEATS = num('BENCH_REPEATS', 7);
const pino = require('pino');
const { AuthRecordFactory } = require(join(root, 'apps/gateway/dist/auth-records/auth-record-factory.js'));
const queues = { queue: require(join(root, 'apps/gateway/dist/auth-records/auth-record-queue.js')).AuthRecordQueue };
if (process.env.BENCH_BEFORE) queues.before = require(join(process.env.BENCH_BEFORE, 'auth-record-queue.js')).AuthRecordQueue;
const { AUTH_RECORDS_STREAM, AUTH_RECORDS_QUEUED_KEY } = require('@idm/config-bus');

const dir = mkdtempSync(join(tmpdir(), 'idm-record-cost-'));
const redis = await startPrivateRedis(root, dir);
const log = pino({ level: 'silent' });
const counters = { queued() {}, dropped() {} };
const settings = { queueLimit: 1e12, bufferLimit: 1e7, flushIntervalMs: 1e9 };
const factory = new AuthRecordFactory('production', 'gw-7f3c2a9e-bench');
let sink = 0;

/** What a request allocates besides its record (kept for the tick, as requests overlap). */
function request(i) {
  const headers = { host: '127.0.0.1:8080', 'user-agent': 'autocannon/8', 'x-api-key': `idm_${(i % 1000).toString(16).padStart(8, '0')}xxxxxxxxxxxxxxxx`, accept: '*/*' };
  return {
    requestId: `req-${i.toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
    startedAt: performance.now(),
    headers,
    clientIp: `198.51.100.${i % 250}`,
    path: `/orders/items/${i}`,
  };
}

function decided(i) {
  const denied = i % 5 === 0;
  return {
    proxyId: 'b3d1c4e2-7a9f-4f0e-9c1d-2e8f5a6b7c8d',
    proxyName: 'orders',
    projectId: '5f2e8d9c-1a3b-4c5d-8e7f-9a0b1c2d3e4f',
    policy: 'api-key',
    outcome: denied ? 'denied' : 'success',
    reason: denied ? 'invalid_api_key' : null,
    status: denied ? 401 : 200,
    credentialId: denied ? null : `7c9e6679-7425-40de-944b-e07fc1f9${(i % 1000).toString(16).padStart(4, '0')}`,
    username: denied ? null : `client-${i % 1000}`,
    keyPrefix: `idm_${(i % 1000).toString(16).padStart(8, '0')}`,
    clientId: null,
    tokenType: null,
  };
}

async function run(variant) {
  const queue = variant === 'none' || variant === 'factory' ? null : new queues[variant](redis.redis, settings, counters, log);
  const start = process.cpuUsage();
  for (let t = 0, i = 0; t < TICKS; t++) {
    const held = [];
    for (let k = 0; k < PER_TICK; k++, i++) {
      const r = request(i);
      held.push(r);
      if (variant === 'none') continue;
      const record = factory.ofDecision(r.requestId, r.startedAt, r.headers, r.clientIp, decided(i));
      if (queue === null) sink += record.status;
      else queue.listener(record);
    }
    if (queue !== null) await queue.flush();
    else await new Promise((resolve) => setImmediate(resolve));
    sink += held.length;
  }
  const used = process.cpuUsage(start);
  await redis.redis.del(AUTH_RECORDS_STREAM, AUTH_RECORDS_QUEUED_KEY);
  return (used.user + used.system) / (TICKS * PER_TICK);
}

// The private redis-server goes whatever happens (a failed run must not leave it behind).
try {
  const variants = process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'factory', ...Object.keys(queues)];
  const results = Object.fromEntries(variants.map((v) => [v, []]));
  for (const v of variants) await run(v); // warm-up
  for (let r = 0; r < REPEATS; r++) for (const v of variants) results[v].push(await run(v));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
  console.log(`CPU µs per request (median of ${REPEATS}, ${TICKS} ticks of ${PER_TICK}), load average ${load}`);
  const base = results.none ? median(results.none) : 0;
  for (const v of variants) {
    const share = results.none ? `  record's share ${(median(results[v]) - base).toFixed(2).padStart(6)}` : '';
    console.log(`${v.padEnd(8)} ${median(results[v]).toFixed(2).padStart(7)}${share}   runs ${results[v].map((x) => x.toFixed(2)).join(' ')}`);
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (sink < 0) console.log(sink);
