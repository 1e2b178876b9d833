// A built Gateway process for one environment, started with its production node flags, and the
// time it took from spawn to /health/ready (ready = its environment's config is loaded).
import { join } from 'node:path';
import { watchGcPauses } from './gc-trace.mjs';
import { gatewayNodeArgs } from './gateway-node-args.mjs';
import { waitForHttp } from './http.mjs';
import { freePort, startNode, stopProcess } from './processes.mjs';

/**
 * The one way the benches start a Gateway (one place for its flags and environment).
 * `traceGc`: run it with --trace-gc and collect its GC pauses (`gc`, see gc-trace.mjs).
 * `authRecords: false`: AUTH_RECORDS=false (the scale bench: its probes' own records are not bytes of a config change).
 * `readyTimeoutMs`: only a failure bound (a Gateway booted in 30 s and more on this machine under load).
 * `env`: a bench's own settings (GATEWAY_ID, AUTH_RECORDS_QUEUE_LIMIT, ...), over the defaults.
 * `wrap`: a command the Gateway runs under (valgrind, ...; see processes.mjs startNode).
 * `port`: a port reserved up front (bench/oidc-policy.mjs: its OP must know the Gateway's callback URL before the Gateway starts); default: a free one.
 */
export async function startGateway(
  root,
  {
    environment,
    redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    logFile,
    readyTimeoutMs = 90_000,
    traceGc = false,
    authRecords = true,
    env = {},
    wrap = [],
    port: reservedPort,
  },
) {
  const port = reservedPort ?? (await freePort());
  const started = performance.now();
  const child = startNode(
    [...gatewayNodeArgs(root), ...(traceGc ? ['--trace-gc'] : []), join(root, 'apps/gateway/dist/main.js')],
    {
      cwd: join(root, 'apps/gateway'),
      env: {
        ...process.env,
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_ENVIRONMENT: environment,
        REDIS_URL: redisUrl,
        // BENCH_GATEWAY_LOG_LEVEL=info: every 'config applied' (mode, reason, changes replayed) in the kept logs
        LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'warn',
        NODE_ENV: 'production',
        UPSTREAM_ALLOW: '127.0.0.1',
        // The benches poll with keys that are not (or no longer) valid from one address, by design:
        // the brute-force detectors would block that address and every later measurement with it.
        BRUTE_FORCE_PER_CREDENTIAL: '0',
        BRUTE_FORCE_PER_ADDRESS: '0',
        BRUTE_FORCE_PER_CREDENTIAL_ADDRESS: '0',
        ...(authRecords ? {} : { AUTH_RECORDS: 'false' }),
        ...env,
      },
      logFile,
    },
    wrap,
  );
  const gc = traceGc ? watchGcPauses(child) : null;
  const base = `http://127.0.0.1:${port}`;
  // polled every 200 ms (waitForHttp): that is the resolution of the cold-start figure
  await waitForHttp(`${base}/health/ready`, {}, 200, readyTimeoutMs, child);
  return { child, pid: child.pid, base, gc, readyMs: Math.round(performance.now() - started), stop: () => stopProcess(child) };
}
