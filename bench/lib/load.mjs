// Runs the load generator in its own Node process (so it never shares an event loop with the
// thing being measured) and reduces its output to the numbers the report needs.
import { join } from 'node:path';
import { startProcess } from './processes.mjs';

export function runAutocannon(root, { url, connections, durationSec, headers = {}, method, body }) {
  const worker = join(root, 'bench/lib/load-worker.mjs');
  // method/body: for benchmarks of policies that read the request body (JOSE).
  const opts = { url, connections, duration: durationSec, headers, ...(method && { method }), ...(body !== undefined && { body }) };
  return new Promise((resolve, reject) => {
    // tracked like every other child, so Ctrl-C or the watchdog stops it too
    const child = startProcess(process.execPath, [worker, JSON.stringify(opts)], {
      env: { ...process.env, AUTOCANNON_PATH: join(root, 'node_modules/autocannon') },
      stdin: 'pipe',
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), (durationSec + 20) * 1000);
    child.on('close', (code) => {
      // 'close', not 'exit': all of stdout has been read
      clearTimeout(killer);
      try {
        resolve(summarize(JSON.parse(out.trim().split('\n').pop())));
      } catch {
        reject(new Error(`load generator failed (exit ${code}): ${err.slice(-1000) || out.slice(-1000)}`));
      }
    });
  });
}

const round2 = (x) => (x === null ? null : Math.round(x * 100) / 100);

function summarize({ autocannon: r, latencyMs, cpuSeconds }) {
  const non2xx = r.non2xx ?? 0;
  const problems = [];
  if (r.errors) problems.push(`${r.errors} errors`);
  if (r.timeouts) problems.push(`${r.timeouts} timeouts`);
  if (non2xx) problems.push(`${non2xx} non-2xx (${Object.keys(r.statusCodeStats ?? {}).join('/')})`);
  if (!r['2xx']) problems.push('no 2xx responses');
  return {
    valid: problems.length === 0,
    invalidReason: problems.join(', ') || null,
    rps: Math.round(r.requests.total / r.duration),
    p50Ms: round2(latencyMs.p50),
    p90Ms: round2(latencyMs.p90),
    p99Ms: round2(latencyMs.p99),
    meanLatencyMs: round2(latencyMs.mean),
    maxLatencyMs: round2(latencyMs.max),
    requests: r.requests.total,
    durationSec: r.duration,
    ok2xx: r['2xx'],
    non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    loadGeneratorCpuSeconds: cpuSeconds,
    bytesPerResponse: r.requests.total ? Math.round(r.throughput.total / r.requests.total) : 0,
  };
}
