// Preloaded into a benchmarked process (`--import <absolute path>/bench/lib/loop-gaps.mjs`):
// records every gap over LOOP_GAPS_OVER_MS (default 30) between two ticks of a 1 ms timer, i.e.
// each stall of the event loop, with its start and end on the monotonic clock in µs (the clock V8's CPU profiles
// use), and writes them as JSON to LOOP_GAPS_FILE when the process exits. With --cpu-prof,
// `bench/cpu-profile-turns.mjs <profile> --gaps <file>` names the code that ran in each stall.
// Each gap also says how much of it the main thread ran on a CPU and how long it waited for one
// (`ranMs`, `waitedMs`: the kernel's schedstat of the thread): on 2 cores shared with a Manager,
// Redis and other Gateways, part of a stall is the process not being scheduled at all.
import { writeFileSync } from 'node:fs';
import { mainThreadSchedMs } from './processes.mjs';

// `%p` in the name becomes the process id (several processes of one run, e.g. two Gateways).
const file = process.env.LOOP_GAPS_FILE?.replace('%p', String(process.pid));
const overUs = Number(process.env.LOOP_GAPS_OVER_MS ?? 30) * 1000;
if (file) {
  const gaps = [];
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const ms1 = (ms) => Math.round(ms * 10) / 10;
  let last = nowUs();
  let lastSched = mainThreadSchedMs(process.pid);
  setInterval(() => {
    const now = nowUs();
    const sched = mainThreadSchedMs(process.pid);
    if (now - last > overUs)
      gaps.push({ fromUs: last, toUs: now, ms: ms1((now - last) / 1000), ranMs: ms1(sched.ranMs - lastSched.ranMs), waitedMs: ms1(sched.waitedMs - lastSched.waitedMs) });
    last = now;
    lastSched = sched;
  }, 1).unref();
  // On a graceful exit (the Gateway's and the Manager's SIGTERM shutdowns end in one), as --cpu-prof writes its profile.
  process.on('exit', () => writeFileSync(file, JSON.stringify(gaps)));
}
