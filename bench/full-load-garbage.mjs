#!/usr/bin/env node
// The garbage of a Gateway's full load, in figures that do not depend on how loaded the machine
// is (issue #13: GC pauses of 70-85 ms during a 1M cold start). N credentials (API keys, shaped
// as bench/gateway-scale.mjs seeds them) and P proxies are written into a private redis-server as
// the Manager stores them; one Gateway is started with --trace-gc-nvp (its production flags
// first, then BENCH_GATEWAY_NODE_ARGS), and V8's own per-GC figures are summed for two phases:
// - cold start: spawn to /health/ready (Nest boot + the full load + the compile);
// - reload: the environment replaced whole at revision 2 (a `full` log entry), the Gateway's
//   poll notices and loads everything again while serving its previous view, until
//   /health/ready reports revision 2. This phase is the full load alone: its bytes allocated,
//   promoted and GCs per credential are the figures to compare before/after a change.
// Per phase: scavenges, mark-compacts, bytes allocated (V8's `allocated`: heap growth between
// two GCs, summed), bytes promoted to the old generation, the sum and the longest pause (wall
// time: includes waiting for a core). Prints one JSON object.
//
// Settings (env): BENCH_GARBAGE_CREDENTIALS=200000 BENCH_GARBAGE_PROXIES=1000 BENCH_GATEWAY_NODE_ARGS=''
// Example: BENCH_GATEWAY_NODE_ARGS='--max-semi-space-size=32' node bench/full-load-garbage.mjs
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { startPrivateRedis } from './lib/redis.mjs';
import { runLifecycle } from './lib/run-lifecycle.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { EnvironmentConfigStore } = createRequire(import.meta.url)(join(root, 'libs/config-bus/dist/index.js'));
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const N = num('BENCH_GARBAGE_CREDENTIALS', 200_000);
const P = num('BENCH_GARBAGE_PROXIES', 1_000);
const log = (msg) => process.stderr.write(`[full-load-garbage ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const { tmp, cleanup } = runLifecycle({ prefix: 'idm-loadgc-', maxSeconds: num('BENCH_MAX_SECONDS', 1800), log });

const keyOf = (g) => `idm_${g.toString(16).padStart(8, '0')}_${createHash('md5').update(`gw:${g}`).digest('hex')}`;
const credential = (g, projectId) => ({
  id: `00000000-0000-4000-8000-${g.toString(16).padStart(12, '0')}`,
  projectId,
  username: `c${g}`,
  passwordHash: null,
  enabled: true,
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
const proxy = (i, projectId) => ({
  id: `proxy-${i}`,
  projectId,
  name: `p${i}`,
  basePath: `/p${i}`,
  upstreamUrl: 'http://127.0.0.1:9',
  methods: ['GET'],
  policies: [{ type: 'api-key', config: { header: 'x-api-key', stripCredential: true } }],
  deployedAt: null,
});

function write(store, environment, epoch, revision, projectId) {
  return store.replace(environment, {
    epoch,
    revision,
    signingKeys: [],
    chunks: (async function* () {
      yield { proxies: Array.from({ length: P }, (_, i) => proxy(i, projectId)) };
      for (let g = 1; g <= N; g += 10_000) yield { credentials: Array.from({ length: Math.min(10_000, N - g + 1) }, (_, i) => credential(g + i, projectId)) };
    })(),
  });
}

// One --trace-gc-nvp line: "[pid:isolate] 1234 ms: pause=9.4 mutator=... gc=s ... allocated=N promoted=N ..."
const field = (line, name) => {
  const m = new RegExp(`(?:^| )${name}=([^ ]+)`).exec(line);
  return m ? m[1] : null;
};

function summary(lines, perCredential) {
  const gcs = lines.map((l) => ({ kind: field(l, 'gc'), pause: Number(field(l, 'pause')), allocated: Number(field(l, 'allocated')), promoted: Number(field(l, 'promoted')) }));
  const mb = (b) => Math.round((b / 2 ** 20) * 10) / 10;
  const allocated = gcs.reduce((t, g) => t + g.allocated, 0);
  const promoted = gcs.reduce((t, g) => t + g.promoted, 0);
  return {
    scavenges: gcs.filter((g) => g.kind === 's').length,
    markCompacts: gcs.filter((g) => g.kind === 'mc' || g.kind === 'ms').length,
    otherGcs: gcs.filter((g) => !['s', 'mc', 'ms'].includes(g.kind)).length,
    allocatedMB: mb(allocated),
    promotedMB: mb(promoted),
    ...(perCredential ? { allocatedBytesPerCredential: Math.round(allocated / N), promotedBytesPerCredential: Math.round(promoted / N) } : {}),
    pauseSumMs: Math.round(gcs.reduce((t, g) => t + g.pause, 0)),
    longestPauseMs: gcs.reduce((w, g) => Math.max(w, g.pause), 0),
    pausesOver50Ms: gcs.filter((g) => g.pause > 50).length,
  };
}

async function readyRevision(base) {
  try {
    const res = await fetch(`${base}/health/ready`);
    return (await res.json()).revision;
  } catch {
    return null;
  }
}

async function main() {
  const machine = { cpus: cpus().length, loadavgAtStart: loadavg().map((x) => Math.round(x * 10) / 10) };
  const redisServer = await startPrivateRedis(root, tmp);
  const store = new EnvironmentConfigStore(redisServer.redis);
  const environment = `loadgc-${randomUUID().slice(0, 8)}`;
  const epoch = `0000000001.${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const projectId = randomUUID();
  log(`writing ${N} credentials and ${P} proxies`);
  await write(store, environment, epoch, 1, projectId);
  const storedBytes = Number(/used_memory:(\d+)/.exec(await redisServer.redis.info('memory'))[1]);

  process.env.BENCH_GATEWAY_NODE_ARGS = `${process.env.BENCH_GATEWAY_NODE_ARGS ?? ''} --trace-gc-nvp`;
  const phases = { cold: [], reload: [], after: [] };
  let phase = 'cold';
  log('starting the Gateway (cold start)');
  const gwPromise = startGateway(root, {
    environment,
    redisUrl: redisServer.url,
    logFile: join(tmp, 'gateway.log'),
    readyTimeoutMs: 900_000,
    authRecords: false,
    env: { CONFIG_POLL_INTERVAL_MS: '500' },
  });
  const gw = await gwPromise;
  // Lines arrive on the child's stdout; the cold phase's lines were written to the log file.
  const { readFileSync } = await import('node:fs');
  phases.cold = readFileSync(join(tmp, 'gateway.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(' gc='));
  let partial = '';
  gw.child.stdout.on('data', (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop();
    for (const l of lines) if (l.includes(' gc=')) phases[phase].push(l);
  });
  // Settle: the boot's last GCs land before the reload is measured.
  await new Promise((r) => setTimeout(r, 3000));
  log(`ready in ${gw.readyMs} ms; replacing the environment (revision 2) for a full reload`);
  await write(store, environment, epoch, 2, projectId);
  phase = 'reload';
  const reloadStarted = performance.now();
  while ((await readyRevision(gw.base)) !== 2) await new Promise((r) => setTimeout(r, 100));
  const reloadMs = Math.round(performance.now() - reloadStarted);
  await new Promise((r) => setTimeout(r, 500));
  phase = 'after';
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.pid}/status`, 'utf8'))[1]);
  await gw.stop();
  await redisServer.stop();
  console.log(
    JSON.stringify(
      {
        credentials: N,
        proxies: P,
        gatewayNodeArgs: process.env.BENCH_GATEWAY_NODE_ARGS.trim(),
        machine: { ...machine, loadavgAtEnd: loadavg().map((x) => Math.round(x * 10) / 10) },
        redisUsedMB: Math.round(storedBytes / 2 ** 20),
        coldStart: { readyMs: gw.readyMs, ...summary(phases.cold, false) },
        reload: { ms: reloadMs, ...summary(phases.reload, true) },
        gatewayRssMB: Math.round(rss / 1024),
      },
      null,
      2,
    ),
  );
}

main()
  .catch((err) => {
    log(`failed: ${err.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
