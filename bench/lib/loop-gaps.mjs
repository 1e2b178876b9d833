// Preloaded into a benchmarked process (`--import <absolute path>/bench/lib/loop-gaps.mjs`):
// records every gap over LOOP_GAPS_OVER_MS (default 30) between two ticks of a 1 ms timer, i.e.
// each stall of the event loop, with its start and end on the monotonic clock in µs (the clock V8's CPU profiles
// use), and writes them as JSON to LOOP_GAPS_FILE when the process exits. With --cpu-prof,
// `bench/cpu-profile-turns.mjs <profile> --gaps <file>` names the code that ran in each stall.
import { writeFileSync } from 'node:fs';

// `%p` in the name becomes the process id (several processes of one run, e.g. two Gateways).
const file = process.env.LOOP_GAPS_FILE?.replace('%p', String(process.pid));
const overUs = Number(process.env.LOOP_GAPS_OVER_MS ?? 30) * 1000;
if (file) {
  const gaps = [];
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  let last = nowUs();
  setInterval(() => {
    const now = nowUs();
    if (now - last > overUs) gaps.push({ fromUs: last, toUs: now, ms: Math.round((now - last) / 100) / 10 });
    last = now;
  }, 1).unref();
  // On a graceful exit (the Gateway's SIGTERM shutdown ends in one), as --cpu-prof writes its profile.
  process.on('exit', () => writeFileSync(file, JSON.stringify(gaps)));
}
