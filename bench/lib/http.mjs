// One-off HTTP requests for readiness and sanity checks (not for load).
import { request } from 'node:http';

export function httpGet(url, headers = {}, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `url` answers `status`; fails early if `child` exits. */
export async function waitForHttp(url, headers, status, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  let exited = null;
  child?.exited.then((e) => {
    exited = e;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`process exited (code ${exited.code}, signal ${exited.signal}) while waiting for ${url}; output:\n${child.tail}`);
    try {
      const res = await httpGet(url, headers);
      if (res.status === status) return res;
      last = `HTTP ${res.status}: ${res.body.slice(0, 300)}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})${child ? `; output:\n${child.tail}` : ''}`);
}
