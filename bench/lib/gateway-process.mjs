// A built Gateway process for one environment, started with its production node flags, and the
// time it took from spawn to /health/ready (ready = its environment's config is loaded).
import { join } from 'node:path';
import { gatewayNodeArgs } from './gateway-node-args.mjs';
import { waitForHttp } from './http.mjs';
import { freePort, startProcess, stopProcess } from './processes.mjs';

export async function startGateway(root, { environment, redisUrl, logFile, readyTimeoutMs }) {
  const port = await freePort();
  const started = performance.now();
  const child = startProcess(process.execPath, [...gatewayNodeArgs(root), join(root, 'apps/gateway/dist/main.js')], {
    cwd: join(root, 'apps/gateway'),
    env: {
      ...process.env,
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_ENVIRONMENT: environment,
      REDIS_URL: redisUrl,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      UPSTREAM_ALLOW: '127.0.0.1',
    },
    logFile,
  });
  const base = `http://127.0.0.1:${port}`;
  // polled every 200 ms (waitForHttp): that is the resolution of the cold-start figure
  await waitForHttp(`${base}/health/ready`, {}, 200, readyTimeoutMs, child);
  return { child, pid: child.pid, base, readyMs: Math.round(performance.now() - started), stop: () => stopProcess(child) };
}
