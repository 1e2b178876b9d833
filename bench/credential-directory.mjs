#!/usr/bin/env node
// The Gateway's credential directory alone, in one process (issue #13: GC pauses at a million
// credentials). Fills a CredentialDirectory (built libs/policies) with N credentials shaped like
// bench/scale.mjs's seed, in 5 ms slices as the Gateway's full load does, then measures what the
// V8 heap and RSS hold, the longest event-loop delay and GC pause during the fill and during a
// phase of lookups + changes, and the time of a cold and a hot api-key lookup. Prints one JSON
// object. Run with --trace-gc / --cpu-prof / --heap-prof for the profile behind the figures.
//
// Settings (env): BENCH_DIRECTORY_CREDENTIALS=1000000 BENCH_DIRECTORY_CHANGES=2000
//   BENCH_DIRECTORY_LOOKUPS=200000
// Example: node --no-memory-reducer bench/credential-directory.mjs
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const { CredentialDirectory } = require(join(root, 'libs/policies/dist/index.js'));
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const N = num('BENCH_DIRECTORY_CREDENTIALS', 1_000_000);
const CHANGES = num('BENCH_DIRECTORY_CHANGES', 2_000);
const LOOKUPS = num('BENCH_DIRECTORY_LOOKUPS', 200_000);
const SLICE_MS = 5;

const projectId = randomUUID();
const ids = Array.from({ length: 64 }, () => randomUUID().slice(0, 28));
const idOf = (g) => `${ids[g % 64]}${g.toString(16).padStart(8, '0')}`;
const keyOf = (g) => `idm_${g.toString(16).padStart(8, '0')}_${createHash('md5').update(`salt:${g}`).digest('hex')}`;
const hashOf = (g) => createHash('sha256').update(keyOf(g)).digest('hex');
/** What the Gateway gets from Redis for one seeded credential (snapshot schema, defaults filled). */
const credential = (g, enabled = true) => ({
  id: idOf(g),
  projectId,
  username: `c${g}`,
  passwordHash: null,
  enabled,
  expiresAt: null,
  apiKeys: [{ id: randomUUID(), prefix: `idm_${g.toString(16).padStart(8, '0')}`, hash: hashOf(g), expiresAt: null }],
  roles: [],
  metadata: [],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
});

const gcPauses = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push(e.duration);
}).observe({ entryTypes: ['gc'] });
const round = (x) => Math.round(x * 10) / 10;
const mb = (b) => Math.round(b / 2 ** 20);

/** Runs `phase` while measuring the event loop's longest delay and the longest GC pause. */
async function measured(name, phase) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  gcPauses.length = 0;
  delay.enable();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await phase();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  const sorted = [...gcPauses].sort((a, b) => a - b);
  return {
    phase: name,
    ms: Math.round(ms),
    // The machine is shared: wall time and pauses include time the process waited for a core.
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    maxEventLoopDelayMs: round(delay.max / 1e6),
    p99EventLoopDelayMs: round(delay.percentile(99) / 1e6),
    gcCount: sorted.length,
    maxGcPauseMs: round(sorted.at(-1) ?? 0),
    gcPauseTotalMs: Math.round(sorted.reduce((a, b) => a + b, 0)),
  };
}

const directory = new CredentialDirectory([]);
const yieldNow = () => new Promise((resolve) => setImmediate(resolve));
const phases = [];
phases.push(
  await measured('fill', async () => {
    let slice = performance.now();
    for (let g = 1; g <= N; g++) {
      directory.upsert(credential(g));
      if (g % 16 === 0 && performance.now() - slice >= SLICE_MS) {
        await yieldNow();
        slice = performance.now();
      }
    }
  }),
);
// A forced full GC (--expose-gc) before reading the heap; its pause is not one a Gateway has, so
// the observer's report of it is let through before the next phase starts counting.
globalThis.gc?.();
await new Promise((resolve) => setTimeout(resolve, 200));
const afterFill = process.memoryUsage();

const hot = Math.ceil(N / 2);
const hotHash = hashOf(hot);
let t = performance.now();
const cold = directory.findApiKey(hashOf(hot + 1));
const coldLookupUs = (performance.now() - t) * 1000;
if (!cold || cold.credential.id !== idOf(hot + 1)) throw new Error('a seeded key was not found');
directory.findApiKey(hotHash);
t = performance.now();
for (let i = 0; i < LOOKUPS; i++) if (!directory.findApiKey(hotHash)) throw new Error('the hot key was not found');
const hotLookupNs = ((performance.now() - t) * 1e6) / LOOKUPS;

phases.push(
  await measured('lookups and changes', async () => {
    let slice = performance.now();
    for (let i = 0; i < CHANGES; i++) {
      const g = 1 + ((i * 7919) % N);
      directory.upsert(credential(g, false));
      const found = directory.findApiKey(hashOf(g));
      if (!found || found.credential.enabled) throw new Error(`change ${i} not seen by the next lookup`);
      for (let j = 0; j < 50; j++) directory.findApiKey(hashOf(1 + (((i * 50 + j) * 104729) % N)));
      if (performance.now() - slice >= SLICE_MS) {
        await yieldNow();
        slice = performance.now();
      }
    }
  }),
);
const end = process.memoryUsage();
process.stdout.write(
  JSON.stringify(
    {
      credentials: N,
      size: directory.size,
      node: process.version,
      execArgv: process.execArgv,
      afterFill: { heapUsedMb: mb(afterFill.heapUsed), externalMb: mb(afterFill.external), rssMb: mb(afterFill.rss) },
      atEnd: { heapUsedMb: mb(end.heapUsed), rssMb: mb(end.rss) },
      coldLookupUs: round(coldLookupUs),
      hotLookupNs: round(hotLookupNs),
      phases,
    },
    null,
    2,
  ) + '\n',
);
