// Runs in its own process (started by lib/load.mjs): drives autocannon and records every
// response time itself, because autocannon's own histogram stores whole milliseconds and so
// reports a sub-millisecond p50 as "0". Prints one JSON line with the summary.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const autocannon = require(process.env.AUTOCANNON_PATH);
const opts = JSON.parse(process.argv[2]);

const cpuStart = process.cpuUsage();
let samples = new Float64Array(1 << 20);
let n = 0;
const instance = autocannon({ ...opts, timeout: 5 }, (err, result) => {
  if (err) {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  }
  const sorted = samples.subarray(0, n).sort();
  const pct = (p) => (n ? sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] : null);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write(
    JSON.stringify({
      autocannon: result,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      latencyMs: { samples: n, p50: pct(50), p90: pct(90), p99: pct(99), max: n ? sorted[n - 1] : null, mean: n ? sum / n : null },
    }) + '\n',
    () => process.exit(0),
  ); // stdin (watched below) would otherwise keep us alive
});
instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
  if (n === samples.length) {
    const bigger = new Float64Array(samples.length * 2);
    bigger.set(samples);
    samples = bigger;
  }
  samples[n++] = responseTimeMs;
});

// exit with the harness even if it was killed without a chance to clean up
process.stdin.resume();
process.stdin.on('end', () => process.exit(1));
