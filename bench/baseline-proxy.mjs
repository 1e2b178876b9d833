// Target (b): the smallest reasonable Node reverse proxy — node:http in front of an undici Pool
// with keep-alive. It does what any proxy must (copy method, path, headers, stream the body both
// ways, drop hop-by-hop headers) and nothing else, so it is the ceiling a Node gateway can reach.
// With BASELINE_FORWARDING=gateway it also adds what the Gateway must add (X-Forwarded-For/Proto/
// Host/Port, Forwarded, X-Real-IP, X-Authenticated-UserId) and an X-Request-Id both ways: target
// (e), the same protocol work.
// Usage: UPSTREAM_URL=http://127.0.0.1:8082 node bench/baseline-proxy.mjs   (prints {"port":N})
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';

// undici is a dependency of apps/gateway only; resolve it from there instead of adding it anywhere.
const require = createRequire(new URL('../apps/gateway/package.json', import.meta.url));
const { Pool } = require('undici');

const upstream = process.env.UPSTREAM_URL;
if (!upstream) throw new Error('UPSTREAM_URL is required');
const pool = new Pool(upstream, { keepAliveTimeout: 30_000, pipelining: 1 });

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function forwardHeaders(raw) {
  const out = {};
  for (const [k, v] of Object.entries(raw)) if (!HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

const withGatewayHeaders = process.env.BASELINE_FORWARDING === 'gateway';
const server = createServer((req, res) => {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const headers = forwardHeaders(req.headers);
  let id; // the request id, when forwarding like the Gateway
  if (withGatewayHeaders) {
    id = randomUUID();
    headers['x-forwarded-for'] = req.socket.remoteAddress;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-host'] = req.headers.host;
    headers['x-forwarded-port'] = String(req.socket.localPort);
    headers['forwarded'] = `for=${req.socket.remoteAddress};host="${req.headers.host}";proto=http`;
    headers['x-real-ip'] = req.socket.remoteAddress;
    headers['x-request-id'] = id;
    headers['x-authenticated-userid'] = 'bench';
  }
  pool.stream(
    { path: req.url, method: req.method, headers, body: hasBody ? req : null },
    ({ statusCode, headers }) => {
      const out = forwardHeaders(headers);
      if (id) out['x-request-id'] = id;
      res.writeHead(statusCode, out);
      return res;
    },
    (err) => {
      if (!err) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway');
      } else {
        res.destroy(err);
      }
    },
  );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
// When started by bench/run.mjs, exit with the harness (stdin closes) even if it was SIGKILLed.
if (process.env.BENCH_CHILD) {
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
process.on('SIGTERM', () => process.exit(0));
