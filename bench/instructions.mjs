#!/usr/bin/env node
// Instructions per proxied request, counted by valgrind's callgrind: (b) the minimal node proxy,
// (e) the same adding the Gateway's headers, (d) the Gateway with api-key. Unlike RPS on these
// shared vCPUs, an instruction count does not move with what the neighbours do, so it tells
// whether a change made the Gateway do less work. It does not see the kernel (syscalls are the
// same per request for b, e and d: strace counts 2 reads, 1 write, 1 writev) nor cache misses.
//
// Usage: node bench/instructions.mjs   (after a build; needs valgrind, Redis for (d))
//   BENCH_TARGETS=b,e,d  BENCH_WARMUP_REQUESTS=8000  BENCH_REQUESTS=4000  BENCH_CONNECTIONS=10
// Each target runs under `valgrind --tool=callgrind --instr-atstart=no`; counting is switched on
// (callgrind_control) only around the measured requests, after a warm-up that lets the JIT settle.
// The count covers every thread of the process (main, JIT compiler, GC helpers).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllNow, startProcess, stopAll, waitForPortLine } from './lib/processes.mjs';
import { baseline, baselineWithForwarding } from './targets/baseline.mjs';
import { gateway } from './targets/gateway.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const settings = {
  targets: (process.env.BENCH_TARGETS ?? 'b,e,d').split(','),
  warmup: Number(process.env.BENCH_WARMUP_REQUESTS ?? 8000),
  requests: Number(process.env.BENCH_REQUESTS ?? 4000),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 10),
};
const log = (m) => process.stderr.write(`[instructions] ${m}\n`);
const tmp = mkdtempSync(join(tmpdir(), 'idm-bench-instructions-'));
process.on('exit', killAllNow);

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.log('valgrind is not installed: nothing measured (apt-get install valgrind)');
  process.exit(1);
}

const upstreamChild = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: join(tmp, 'upstream.log'), stdin: 'pipe' });
const upstream = { port: await waitForPortLine(upstreamChild), pid: upstreamChild.pid };
const defers = [];
const results = [];
try {
  for (const target of [baseline, baselineWithForwarding, gateway].filter((t) => settings.targets.includes(t.key))) {
    const out = join(tmp, `callgrind.${target.key}`);
    const wrap = ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}`];
    log(`${target.name}: starting under callgrind`);
    const running = await target.start({ root, upstream, tmp, defer: (f) => defers.push(f), log, wrap });
    const load = (amount) => {
      const headers = Object.entries(running.headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
      execFileSync(process.execPath, [join(root, 'node_modules/autocannon/autocannon.js'), '-c', String(settings.connections), '-a', String(amount), ...headers, running.url], {
        stdio: 'ignore',
      });
    };
    log(`${target.name}: ${settings.warmup} warm-up requests`);
    load(settings.warmup);
    execFileSync('callgrind_control', ['-i', 'on', String(running.pid)], { stdio: 'ignore' });
    load(settings.requests);
    execFileSync('callgrind_control', ['-i', 'off', String(running.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['-d', String(running.pid)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 2000)); // the dump is written asynchronously
    let total = 0;
    for (const f of readdirSync(tmp).filter((n) => n.startsWith(`callgrind.${target.key}.`))) {
      const m = /^totals: (\d+)/m.exec(readFileSync(join(tmp, f), 'utf8'));
      if (m) total += Number(m[1]);
    }
    results.push({ key: target.key, name: target.name, perRequest: Math.round(total / settings.requests) });
    log(`${target.name}: ${Math.round(total / settings.requests)} instructions per request`);
    await running.stop();
  }
} finally {
  for (const f of defers) await f().catch(() => {});
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

console.log('| | target | instructions per request |');
console.log('|---|---|---:|');
for (const r of results) console.log(`| ${r.key} | ${r.name} | ${r.perRequest} |`);
const by = Object.fromEntries(results.map((r) => [r.key, r.perRequest]));
if (by.d && by.b)
  console.log(`\nd/b instructions: ${(by.d / by.b).toFixed(3)}${by.e ? `, d/e: ${(by.d / by.e).toFixed(3)}` : ''} (below 1: the Gateway executes fewer instructions per request)`);
console.log(`${settings.requests} measured requests after ${settings.warmup} warm-up, ${settings.connections} connections, user space, all threads.`);
