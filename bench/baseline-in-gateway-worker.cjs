// Target (g): boots a whole Gateway on the main thread (as (f) does with --require) and runs
// bench/baseline-proxy.mjs, (e)'s code, in a worker thread: the same process, but its own V8
// isolate, so none of the type feedback the Gateway's boot left behind. g/e against f/e tells
// whether serving proxy traffic from a worker thread would win back what sharing the process
// costs. The worker's stdout (its {"port":N} line) is piped through this process's stdout.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Worker } = require('node:worker_threads');

require(join(__dirname, '../apps/gateway/dist/main.js'));
// BENCH_CHILD off in the worker: its stdin never ends; this thread watches the harness instead.
new Worker(pathToFileURL(join(__dirname, 'baseline-proxy.mjs')), { env: { ...process.env, BENCH_CHILD: '' } });
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
