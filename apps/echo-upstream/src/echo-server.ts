import { createServer, type Server } from 'node:http';

/**
 * The built-in upstream behind the demo proxy and the tests: answers every request with a JSON
 * description of what it received, so a caller can see exactly what the Gateway forwarded.
 * `/status/<code>` answers with that status; `/delay/<ms>` waits before answering.
 */
export function createEchoServer(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://upstream');
      const status = /^\/status\/(\d{3})$/.exec(url.pathname);
      const delay = /^\/delay\/(\d{1,6})$/.exec(url.pathname);
      const body = JSON.stringify({
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const send = () => {
        res.writeHead(status ? Number(status[1]) : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (delay) setTimeout(send, Number(delay[1]));
      else send();
    });
  });
}
