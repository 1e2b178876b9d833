// The life of one benchmark run: a temporary directory for logs, cleanup steps registered as
// things are started, and one cleanup (stop every tracked process, run the steps in reverse,
// remove the directory unless a failure asked to keep the logs; Ctrl-C removes it anyway) on
// normal end, error, Ctrl-C and a watchdog.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllNow, stopAll } from './processes.mjs';

export function runLifecycle({ prefix, maxSeconds, log, beforeStop = () => {} }) {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const deferred = [];
  let keepTmp = process.env.BENCH_KEEP_LOGS === '1'; // the processes' logs of a run that did not fail, on request
  let interrupted = false; // Ctrl-C: whoever pressed it wants everything gone, logs included

  let cleaning = null;
  // One cleanup however many callers (a signal and the run's own `finally`): each waits for it,
  // so nobody exits while the first is still dropping a database.
  const cleanup = () => (cleaning ??= stopEverything());

  async function stopEverything() {
    beforeStop();
    await stopAll();
    for (const fn of deferred.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        log(`cleanup step failed: ${err.message}`);
      }
    }
    if (keepTmp && !interrupted) log(`logs kept in ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      log(`${sig}: stopping everything`);
      interrupted = true;
      cleanup().finally(() => process.exit(130));
    });
  }
  setTimeout(() => {
    log(`watchdog: run exceeded ${maxSeconds} s, aborting`);
    keepTmp = true;
    cleanup().finally(() => process.exit(1));
  }, maxSeconds * 1000).unref();

  return {
    tmp,
    cleanup,
    defer: (fn) => deferred.push(fn),
    /** Runs the benchmark, says a failure, cleans up and exits: 0 when `main` resolved, 1 when it threw. */
    runToExit: async (main) => {
      let code = 1;
      try {
        await main();
        code = 0;
      } catch (err) {
        log(`run failed: ${err.stack ?? err.message}`);
      } finally {
        await cleanup();
      }
      process.exit(code);
    },
    /** A failure: keep the processes' logs for whoever reads the report. */
    keepLogs: () => {
      keepTmp = true;
    },
  };
}
