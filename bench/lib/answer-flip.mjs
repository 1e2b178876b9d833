// Observes when a Gateway has applied a credential change: polls a proxied request with that
// credential's key until the answer is no longer 200. A real request through the api-key policy,
// so the figure includes everything between the Manager's commit and the Gateway's decision.
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
export const POLL_PAUSE_MS = 5;

function status(url, headers) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Resolves with { ms, status }: milliseconds from `since` (performance.now()) to the first answer
 * other than 200; { ms: null } when `deadline` passes first.
 */
export async function waitForFlip(url, headers, since, deadline) {
  while (performance.now() < deadline) {
    const s = await status(url, headers).catch(() => 0);
    if (s !== 200 && s !== 0) return { ms: performance.now() - since, status: s };
    await new Promise((r) => setTimeout(r, POLL_PAUSE_MS));
  }
  return { ms: null, status: null };
}

/**
 * Polls until the answer is 200 (what the request carries is applied there): true, or false when
 * `deadline` passes or `stop()` says there is no use waiting (checked between polls).
 */
export async function waitForAccepted(url, headers, deadline, stop = () => false) {
  while (performance.now() < deadline && !stop()) {
    if ((await status(url, headers).catch(() => 0)) === 200) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export { status as answerStatus };

export function closeFlipAgent() {
  agent.destroy();
}
