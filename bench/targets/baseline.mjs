// Target (b): bench/baseline-proxy.mjs (node:http + undici Pool) in its own process.
import { join } from 'node:path';
import { startProcess, stopProcess, waitForPortLine } from '../lib/processes.mjs';

export const baseline = {
  key: 'b',
  name: 'node http + undici',
  async start({ root, upstream, tmp }) {
    const child = startProcess(process.execPath, [join(root, 'bench/baseline-proxy.mjs')], {
      env: { ...process.env, UPSTREAM_URL: `http://127.0.0.1:${upstream.port}`, PORT: '0', BENCH_CHILD: '1' },
      logFile: join(tmp, 'baseline.log'),
      stdin: 'pipe',
    });
    const port = await waitForPortLine(child);
    return { url: `http://127.0.0.1:${port}/bench/items`, headers: {}, pid: child.pid, stop: () => stopProcess(child) };
  },
};
