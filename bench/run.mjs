#!/usr/bin/env node
// Foundation benchmark: the same autocannon load against (a) the echo upstream directly,
// (b) a minimal node:http + undici proxy, (c) nginx with one worker, (d) the Gateway with the
// api-key policy, (e) the baseline adding the Gateway's forwarding headers — all on loopback,
// on this machine, in one run.
// See bench/README.md.
//
// Settings (env): BENCH_CONNECTIONS=50 BENCH_DURATION=4 BENCH_WARMUP=2 BENCH_ROUNDS=8
//   BENCH_TARGETS=a,b,c,d,e  BENCH_NO_INSTALL=1 (never apt-get nginx)  REDIS_URL=redis://127.0.0.1:6379
//   BENCH_MAX_SECONDS=600 (watchdog for the whole run)  BENCH_GATEWAY_MAIN=<path> (another Gateway build)
//   BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (profile the Gateway; added after
//   its production flags, so '--memory-reducer' measures it without --no-memory-reducer)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAutocannon } from './lib/load.mjs';
import { processTree, rssKb, sampleProcess, startProcess, systemBusySeconds, waitForPortLine } from './lib/processes.mjs';
import { runLifecycle } from './lib/run-lifecycle.mjs';
import { markdown, verdicts } from './lib/report.mjs';
import { SkipTarget } from './lib/skip-target.mjs';
import { baseline, baselineWithForwarding } from './targets/baseline.mjs';
import { direct } from './targets/direct.mjs';
import { gateway } from './targets/gateway.mjs';
import { nginx } from './targets/nginx.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const settings = {
  connections: num('BENCH_CONNECTIONS', 50),
  durationSec: num('BENCH_DURATION', 4),
  warmupSec: num('BENCH_WARMUP', 2),
  rounds: num('BENCH_ROUNDS', 8),
  targets: (process.env.BENCH_TARGETS ?? 'a,b,c,d,e').split(',').map((s) => s.trim()),
  allowInstall: !process.env.BENCH_NO_INSTALL,
  maxSeconds: num('BENCH_MAX_SECONDS', 600),
};
// In the order of the report.
const ALL_TARGETS = [direct, baseline, nginx, baselineWithForwarding, gateway].filter((t) => settings.targets.includes(t.key));
// The order of a round: the Gateway sits between the two baselines it is compared with, so each
// ratio compares runs taken seconds apart; every other round runs in reverse, so a steady drift
// of the machine's speed favours neither side of a pair.
const RUN_ORDER = 'acedb';
const FORWARD = [...ALL_TARGETS].sort((x, y) => RUN_ORDER.indexOf(x.key) - RUN_ORDER.indexOf(y.key));

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const { tmp, defer, cleanup, keepLogs } = runLifecycle({ prefix: 'idm-bench-', maxSeconds: settings.maxSeconds, log });

function ensureBuilt(pkgDir) {
  if (existsSync(join(root, pkgDir, 'dist/index.js'))) return;
  log(`${pkgDir}/dist missing; building it with tsc`);
  const r = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, pkgDir, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`could not build ${pkgDir}; run \`npx -y pnpm@9 install && npx turbo run build\` first`);
}

async function startUpstream() {
  ensureBuilt('apps/echo-upstream');
  const child = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: join(tmp, 'upstream.log'), stdin: 'pipe' });
  const port = await waitForPortLine(child);
  return { port, pid: child.pid };
}

async function measure(target, running, upstream) {
  const load = { url: running.url, connections: settings.connections, headers: running.headers };
  const warm = await runAutocannon(root, { ...load, durationSec: settings.warmupSec });
  if (!warm.valid) log(`${target.name}: warm-up had problems (${warm.invalidReason})`);
  const targetSampler = sampleProcess(running.pid);
  const upstreamSampler = sampleProcess(upstream.pid);
  const busyStart = systemBusySeconds();
  const started = process.hrtime.bigint();
  const result = await runAutocannon(root, { ...load, durationSec: settings.durationSec });
  const elapsedSec = Number(process.hrtime.bigint() - started) / 1e9;
  const busy = systemBusySeconds() - busyStart;
  const t = targetSampler.stop();
  const u = upstreamSampler.stop();
  const cores = (sec) => Math.round((sec / elapsedSec) * 100) / 100;
  const ours = t.cpuSeconds + (running.pid === upstream.pid ? 0 : u.cpuSeconds) + result.loadGeneratorCpuSeconds;
  return {
    ...result,
    maxRssMb: t.maxRssMb,
    cpuCores: cores(t.cpuSeconds),
    upstreamCpuCores: cores(u.cpuSeconds),
    loadGeneratorCpuCores: cores(result.loadGeneratorCpuSeconds),
    machineBusyCores: cores(busy),
    // CPU used by anything not part of this measurement (other builds, tests): noise
    otherCpuCores: Math.max(0, cores(busy - ours)),
    warmupValid: warm.valid,
  };
}

/** One line for the table: what failed and the last thing the process said. */
function headline(err) {
  const lines = err.message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const first = lines[0].replace(/; output:$/, '');
  return lines.length > 1 ? `${first} — ${lines[lines.length - 1]}` : first;
}

/**
 * On a shared machine the round least disturbed by other processes is the most truthful one.
 * All targets are reported from the same round, so every ratio compares runs of one round, taken
 * under the same conditions (picking each target's own best round would flatter some ratios).
 */
function quietestRound(rounds) {
  const noise = (i) => Math.max(...[...rounds.values()].map((all) => all[i]?.otherCpuCores ?? 0));
  const count = Math.max(0, ...[...rounds.values()].map((all) => all.length));
  let best = 0;
  for (let i = 1; i < count; i++) if (noise(i) < noise(best)) best = i;
  return best;
}

async function main() {
  const startedAt = new Date();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    totalMemMb: Math.round(totalmem() / 2 ** 20),
    freeMemMbAtStart: Math.round(freemem() / 2 ** 20),
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
  };
  log(`machine: ${machine.cpus} cores (${machine.cpuModel}), load average ${machine.loadavgAtStart.join(' ')}; load generator shares these cores`);
  const upstream = await startUpstream();
  log(`echo upstream on 127.0.0.1:${upstream.port}`);
  const ctx = { root, upstream, tmp, log, defer, allowInstall: settings.allowInstall };

  const running = new Map();
  const results = new Map();
  for (const target of ALL_TARGETS) {
    try {
      const r = await target.start(ctx);
      r.rssBeforeLoadMb = Math.round(processTree(r.pid).reduce((sum, pid) => sum + rssKb(pid), 0) / 102.4) / 10;
      running.set(target.key, r);
      log(`${target.name}: ready at ${running.get(target.key).url}`);
    } catch (err) {
      const kind = err instanceof SkipTarget ? 'skipped' : 'failed';
      if (kind === 'failed') keepLogs();
      log(`${target.name}: ${kind} — ${err.message}`);
      results.set(target.key, { key: target.key, name: target.name, [kind]: headline(err), detail: err.message });
    }
  }

  const rounds = new Map(ALL_TARGETS.map((t) => [t.key, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of round % 2 === 1 ? FORWARD : [...FORWARD].reverse()) {
      const r = running.get(target.key);
      if (!r || results.has(target.key)) continue;
      log(`round ${round}/${settings.rounds}: ${target.name} (${settings.warmupSec} s warm-up + ${settings.durationSec} s)`);
      try {
        const m = await measure(target, r, upstream);
        rounds.get(target.key).push(m);
        log(
          `  ${m.rps} req/s, p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, RSS ${m.maxRssMb} MB, target ${m.cpuCores} / upstream ${m.upstreamCpuCores} / load gen ${m.loadGeneratorCpuCores} / other ${m.otherCpuCores} cores${m.valid ? '' : ` — INVALID: ${m.invalidReason}`}`,
        );
      } catch (err) {
        keepLogs();
        results.set(target.key, { key: target.key, name: target.name, failed: headline(err), detail: err.message });
        log(`  failed: ${err.message}`);
      }
    }
  }

  const measuredRounds = new Map([...rounds].filter(([key, all]) => !results.has(key) && all.length));
  const shown = quietestRound(measuredRounds);
  const final = ALL_TARGETS.map((t) => {
    if (results.has(t.key)) return results.get(t.key);
    const all = rounds.get(t.key);
    const chosen = all[shown] ?? all[all.length - 1];
    const r = running.get(t.key);
    return {
      key: t.key,
      name: t.name,
      ...chosen,
      // a run is only valid when every round was (no errors, timeouts or non-2xx anywhere)
      valid: all.every((x) => x.valid),
      invalidReason:
        all
          .map((x) => x.invalidReason)
          .filter(Boolean)
          .join('; ') || null,
      rssBeforeLoadMb: r.rssBeforeLoadMb,
      round: all[shown] ? shown + 1 : all.length,
      // memory is judged over the whole run, not only the round shown
      maxRssMb: Math.max(...all.map((x) => x.maxRssMb)),
      ...(r.version ? { version: r.version } : {}),
      ...(r.checks ? { checks: r.checks } : {}),
      ...(all.length > 1 ? { rounds: all } : {}),
    };
  });
  const byKey = Object.fromEntries(final.map((r) => [r.key, r]));
  const v = verdicts(byKey);
  const table = markdown(final, v, settings);

  const report = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine, settings, results: final, ...v, table };
  const outDir = join(root, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `foundation-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');

  for (const r of final) if (r.detail && r.failed) log(`${r.name} failure detail:\n${r.detail}`);
  process.stdout.write(`\n${table}\n\nResults: ${relative(process.cwd(), outFile)}\n`);
  return final.every((r) => r.skipped || (!r.failed && r.valid)) ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  keepLogs();
  log(`run failed: ${err.stack ?? err.message}`);
} finally {
  await cleanup();
}
process.exit(code);
