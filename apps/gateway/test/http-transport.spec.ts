import type { ConfigSnapshot } from '@idm/config-bus';
import { generateApiKey, UpstreamPolicy } from '@idm/domain';
import { hash } from 'argon2';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';
import { parseResponse, RawClient } from './support/raw-client';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

/**
 * HTTP/1.1 transport correctness of the Gateway's listener and proxy path, spoken on raw
 * node:net sockets (a client library would tidy up exactly what is under test): client
 * timeouts, the per-upstream connection cap, bodiless upstream answers that carry a
 * Content-Length, failures after the head, transfer codings, malformed requests and
 * `Expect: 100-continue`. Real handler, real server, real undici pools, real upstreams: a
 * node:http one and a raw one that answers byte for byte what a test needs.
 */
const HEADERS_TIMEOUT_MS = 300;
const BODY_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 1_500;
const CONNECTIONS = 2;

/** The real curl; resolves to what `-w` printed (fails on any curl error, e.g. an empty reply). */
async function curl(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('curl', ['-sS', '-o', '/dev/null', ...args]);
  return stdout;
}

const listen = (server: Server | NetServer) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const close = (server: Server | NetServer) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('Gateway HTTP transport', () => {
  const key = generateApiKey();
  let upstream: Server;
  /** What the node:http upstream saw, by path. */
  const seen: { path: string; outcome: 'complete' | 'cut off'; bytes: number }[] = [];
  let openUpstreamSockets = 0;
  let mostUpstreamSockets = 0;
  let raw: NetServer;
  let gateway: Server;
  let port: number;
  let pools: UpstreamPools;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        seen.push({ path: req.url!, outcome: 'complete', bytes });
        const text = `received ${bytes}`;
        const answer = () => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': text.length }).end(text);
        if (req.url === '/hold') setTimeout(answer, 150);
        else if (req.url === '/slow') setTimeout(answer, 2 * BODY_TIMEOUT_MS);
        else answer();
      });
      req.on('close', () => {
        if (!req.complete) seen.push({ path: req.url!, outcome: 'cut off', bytes });
      });
    });
    upstream.on('connection', (socket: Socket) => {
      mostUpstreamSockets = Math.max(mostUpstreamSockets, ++openUpstreamSockets);
      socket.on('close', () => openUpstreamSockets--);
    });
    // Answers per request line, byte for byte (bodiless GETs only).
    raw = createNetServer((socket) => {
      let pending = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
          const path = pending.slice(0, end).split(' ')[1];
          pending = pending.slice(end + 4);
          if (path === '/not-modified') socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\n');
          else if (path === '/no-content') socket.write('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n');
          else if (path === '/cut') socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial');
          else if (path === '/head-only') socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n');
          else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      });
      socket.on('error', () => {});
    });
    const upstreamUrl = `http://127.0.0.1:${await listen(upstream)}`;
    const rawUrl = `http://127.0.0.1:${await listen(raw)}`;

    const proxy = (id: string, upstreamUrl: string, policies: ConfigSnapshot['proxies'][number]['policies']) =>
      snapshotProxy({ id, projectId: 'proj', name: id, basePath: `/${id}`, upstreamUrl, methods: ['GET', 'HEAD', 'POST'], policies });
    const metrics = new GatewayMetrics();
    pools = new UpstreamPools(
      { connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, keepAliveTimeoutMs: 1000, connections: CONNECTIONS },
      new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] }),
    );
    const active = new ActiveConfiguration(pools, metrics);
    active.activate(
      configSnapshot({
        proxies: [
          proxy('open', upstreamUrl, []),
          proxy('keyed', upstreamUrl, [{ type: 'api-key', config: {} }]),
          proxy('raw', rawUrl, []),
          // An asynchronous policy (argon2 verification): a 100 sent before it decides would win the race.
          proxy('basic', upstreamUrl, [{ type: 'basic-auth', config: {} }]),
        ],
        credentials: [
          snapshotCredential({
            id: 'c-alice',
            projectId: 'proj',
            username: 'alice',
            passwordHash: await hash('correct horse battery', { type: 2 }),
            apiKeys: [{ id: 'k1', prefix: key.prefix, hash: key.hash, expiresAt: null }],
          }),
        ],
      }),
    );
    const handler = new ProxyRequestHandler(active, metrics, { trustProxy: false, bodyLimit: 64 * 1024 }, pino({ level: 'silent' }));
    const http = new GatewayHttpServer(null, { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, bodyTimeoutMs: BODY_TIMEOUT_MS });
    gateway = http.serverFactory((_req, res) => res.end('nest'));
    http.attach(handler.handle, (_req, res) => res.end('tokens'), handler.handleExpectingContinue);
    port = await listen(gateway);
  });

  afterAll(async () => {
    gateway.closeAllConnections();
    await close(gateway);
    await pools.closeAll();
    upstream.closeAllConnections();
    await close(upstream);
    await close(raw);
  });

  describe('client timeouts', () => {
    it('answers 408 with its error body to a body that stops arriving, and frees the upstream request', async () => {
      const started = Date.now();
      const client = new RawClient(port).send('POST /open/stalled HTTP/1.1\r\nHost: gw\r\nX-Request-Id: stalled-1\r\nContent-Length: 100\r\n\r\n0123456789');
      const wire = await client.untilClosed();
      const elapsed = Date.now() - started;
      const res = parseResponse(wire);
      expect(res.status).toBe(408);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body)).toEqual({ code: 'request_timeout', message: expect.any(String), requestId: 'stalled-1' });
      // The body timeout, not the whole request's (nor node's 5 minutes).
      expect(elapsed).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS);
      // The upload had already gone upstream; the upstream request is cancelled with it.
      for (let i = 0; i < 50 && !seen.some((s) => s.path === '/stalled'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen.find((s) => s.path === '/stalled')).toEqual({ path: '/stalled', outcome: 'cut off', bytes: 10 });
    });

    it('holds a body that keeps moving to the whole-request timeout', async () => {
      const started = Date.now();
      const client = new RawClient(port).send('POST /open/trickle HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n');
      const trickle = setInterval(() => client.send('x'), BODY_TIMEOUT_MS / 3);
      try {
        const res = parseResponse(await client.untilClosed(REQUEST_TIMEOUT_MS + 2_000));
        expect(res.status).toBe(408);
        // At most one check interval (a quarter of the head timeout) after the request timeout.
        expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
        expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 1_000);
      } finally {
        clearInterval(trickle);
      }
    });

    it('lets a slow upstream take longer than the body timeout once the body is in, and keeps the connection', async () => {
      const client = new RawClient(port).send('POST /open/slow HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello');
      await client.waitFor(/received 5$/, 5_000);
      await new Promise((r) => setTimeout(r, 2 * BODY_TIMEOUT_MS));
      client.send('GET /open/again HTTP/1.1\r\nHost: gw\r\n\r\n');
      await client.waitFor(/received 5[^]*HTTP\/1\.1 200 OK[^]*received 0$/);
      client.destroy();
    });

    it('answers 408 to a request head that never completes', async () => {
      const started = Date.now();
      const wire = await new RawClient(port).send('GET /open/x HTTP/1.1\r\nHost: gw\r\nX-Slow: ').untilClosed();
      expect(Date.now() - started).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
      const res = parseResponse(wire);
      expect(res.status).toBe(408);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'request_timeout', requestId: expect.any(String) });
    });
  });

  it('opens at most the configured number of connections to one upstream; the rest wait their turn', async () => {
    mostUpstreamSockets = openUpstreamSockets;
    const get = () =>
      new Promise<number>((resolve, reject) =>
        httpRequest({ host: '127.0.0.1', port, path: '/open/hold', agent: false }, (res) => res.resume().on('end', () => resolve(res.statusCode!)))
          .on('error', reject)
          .end(),
      );
    const statuses = await Promise.all(Array.from({ length: 6 }, get));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(mostUpstreamSockets).toBe(CONNECTIONS);
  });

  describe('bodiless upstream answers and failures after the head', () => {
    it.each([
      ['/raw/not-modified', 304, { etag: '"v1"', 'content-length': '5' }],
      ['/raw/no-content', 204, { 'content-length': '5' }],
    ])('forwards %s (status %d with a Content-Length) and keeps the connection usable', async (path, status, headers) => {
      const client = new RawClient(port).send(`GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`);
      const first = parseResponse(await client.waitFor(/\r\n\r\n/));
      expect(first.status).toBe(status);
      expect(first.headers).toMatchObject(headers);
      expect(first.body).toBe('');
      client.send('GET /raw/again HTTP/1.1\r\nHost: gw\r\n\r\n');
      await client.waitFor(/\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
      client.destroy();
    });

    it('gives curl a 304 with a Content-Length as a complete answer', async () => {
      expect(await curl(['-w', '%{http_code} %{size_download}', `http://127.0.0.1:${port}/raw/not-modified`])).toBe('304 0');
    });

    it.each([
      ['/raw/cut', 'partial'],
      ['/raw/head-only', ''],
    ])('relays the head of %s, cut short, then closes without completing it (no 502 after a 200)', async (path, body) => {
      const wire = await new RawClient(port).send(`GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`).untilClosed();
      const res = parseResponse(wire);
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe('100');
      expect(res.body).toBe(body);
      expect(wire).not.toMatch(/upstream_/);
    });
  });

  describe('malformed requests', () => {
    it('answers 501 to a transfer coding other than chunked alone, before anything goes upstream', async () => {
      const wire = await new RawClient(port).send('POST /open/coded HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: foo, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n').untilClosed();
      const res = parseResponse(wire);
      expect(res.status).toBe(501);
      expect(JSON.parse(res.body)).toEqual({ code: 'unsupported_transfer_coding', message: expect.any(String), requestId: expect.any(String) });
      expect(seen.some((s) => s.path === '/coded')).toBe(false);
    });

    it('still takes a plain chunked body', async () => {
      const client = new RawClient(port).send('POST /open/chunked HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
      await client.waitFor(/received 5$/);
      client.destroy();
    });

    it.each([
      ['a header line without a colon', 'GET /open/x HTTP/1.1\r\nHost gw\r\n\r\n'],
      ['no HTTP at all', 'HELLO THERE\r\n\r\n'],
      ['chunked after another coding is not final', 'POST /open/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, foo\r\n\r\n'],
      ['Transfer-Encoding together with Content-Length', 'POST /open/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ])('answers 400 malformed_request with its error body to %s', async (_, bytes) => {
      const res = parseResponse(await new RawClient(port).send(bytes).untilClosed());
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(res.body)).toEqual({ code: 'malformed_request', message: expect.any(String), requestId: expect.any(String) });
      expect(res.headers['x-request-id']).toBe(JSON.parse(res.body).requestId);
    });

    it('answers 431 headers_too_large with its error body to a head over the size limit', async () => {
      const res = parseResponse(await new RawClient(port).send(`GET /open/x HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`).untilClosed());
      expect(res.status).toBe(431);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'headers_too_large' });
    });

    it('answers 400 missing_host with its error body to an HTTP/1.1 request without Host', async () => {
      const res = parseResponse(await new RawClient(port).send('GET /open/x HTTP/1.1\r\n\r\n').untilClosed());
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual({ code: 'missing_host', message: expect.any(String), requestId: expect.any(String) });
    });

    it('answers 400 duplicate_host to a request with two Host headers', async () => {
      const res = parseResponse(await new RawClient(port).send('GET /open/x HTTP/1.1\r\nHost: gw\r\nhost: evil.test\r\n\r\n').untilClosed());
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'duplicate_host' });
    });
  });

  describe('Expect: 100-continue', () => {
    const head = (headers: string) => `POST /keyed/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\n${headers}\r\n`;

    it('refuses a request its policies reject without a 100 first, and closes', async () => {
      const wire = await new RawClient(port).send(head('')).untilClosed();
      expect(wire).toMatch(/^HTTP\/1\.1 401 /);
      const res = parseResponse(wire);
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body)).toMatchObject({ code: 'missing_credentials' });
      expect(seen.some((s) => s.path === '/upload')).toBe(false);
    });

    it('answers 100 once the policies pass, then forwards the body', async () => {
      const client = new RawClient(port).send(head(`X-Api-Key: ${key.key}\r\n`));
      await client.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      client.send('hello');
      await client.waitFor(/HTTP\/1\.1 200 OK\r\n[^]*received 5$/);
      client.destroy();
    });

    it("counts the body's silence from the 100: a body that does not follow it is answered 408", async () => {
      const client = new RawClient(port).send(head(`X-Api-Key: ${key.key}\r\n`));
      await client.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      const continued = Date.now();
      await client.waitFor(/HTTP\/1\.1 408 Request Timeout\r\n[^]*"code":"request_timeout"/);
      expect(Date.now() - continued).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      client.destroy();
    });

    it('lets curl hold its upload back when refused, and send it when accepted', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'idm-expect-'));
      const body = join(dir, 'body');
      writeFileSync(body, Buffer.alloc(32 * 1024, 'x'));
      try {
        // --expect100-timeout: curl would otherwise send the body anyway after 1 s without an answer.
        const upload = (user: string) =>
          curl([
            '-H',
            'Expect: 100-continue',
            '--expect100-timeout',
            '10',
            '-u',
            user,
            '--data-binary',
            `@${body}`,
            '-w',
            '%{http_code} %{size_upload}',
            `http://127.0.0.1:${port}/basic/curl-upload`,
          ]);
        expect(await upload('alice:wrong horse')).toBe('401 0');
        expect(await upload('alice:correct horse battery')).toBe(`200 ${32 * 1024}`);
        expect(seen.filter((s) => s.path === '/curl-upload')).toEqual([{ path: '/curl-upload', outcome: 'complete', bytes: 32 * 1024 }]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('answers 417 to any other expectation', async () => {
      const res = parseResponse(await new RawClient(port).send('GET /open/x HTTP/1.1\r\nHost: gw\r\nExpect: something-else\r\n\r\n').untilClosed());
      expect(res.status).toBe(417);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'expectation_failed' });
    });
  });
});
