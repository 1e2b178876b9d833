// The life of one benchmark run: a temporary directory for logs, cleanup steps registered as
// things are started, and one cleanup (stop every tracked process, run the steps in reverse,
// remove the directory unless a failure asked to keep the logs) on normal end, error, Ctrl-C and
// a watchdog.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllNow, stopAll } from './processes.mjs';

export function runLifecycle({ prefix, maxSeconds, log, beforeStop = () => {} }) {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const deferred = [];
  let keepTmp = false;

  async function cleanup() {
    beforeStop();
    await stopAll();
    for (const fn of deferred.splice(0).reverse()) {
      try { await fn(); } catch (err) { log(`cleanup step failed: ${err.message}`); }
    }
    if (keepTmp) log(`logs kept in ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      log(`${sig}: stopping everything`);
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
    /** A failure: keep the processes' logs for whoever reads the report. */
    keepLogs: () => { keepTmp = true; },
  };
}
