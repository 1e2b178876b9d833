// Targets (b) and (e): bench/baseline-proxy.mjs (node:http + undici Pool) in its own process.
import { join } from 'node:path';
import { startNode, stopProcess, waitForPortLine } from '../lib/processes.mjs';

function baselineTarget(key, name, forwarding) {
  return {
    key,
    name,
    async start({ root, upstream, tmp, wrap }) {
      const child = startNode(
        [join(root, 'bench/baseline-proxy.mjs')],
        {
          env: { ...process.env, UPSTREAM_URL: `http://127.0.0.1:${upstream.port}`, PORT: '0', BENCH_CHILD: '1', BASELINE_FORWARDING: forwarding },
          logFile: join(tmp, `baseline-${key}.log`),
          stdin: 'pipe',
        },
        wrap,
      );
      const port = await waitForPortLine(child, wrap ? 120_000 : 10_000);
      return { url: `http://127.0.0.1:${port}/bench/items`, headers: {}, pid: child.pid, stop: () => stopProcess(child) };
    },
  };
}

export const baseline = baselineTarget('b', 'node http + undici', 'minimal');
// (e): the same baseline, adding the headers the Gateway must add (X-Forwarded-For/Proto/Host,
// X-Authenticated-UserId) and its X-Request-Id both ways: the same protocol work, so d/e is the
// cost of the Gateway itself (routing, policies, metrics), not of the headers it is asked to set.
export const baselineWithForwarding = baselineTarget('e', "node http + undici + the Gateway's headers", 'gateway');
