import type { ConfigSnapshot } from '@idm/config-bus';
import { generateApiKey, UpstreamPolicy } from '@idm/domain';
import { hash } from 'argon2';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { configSnapshot, createEchoServer, snapshotCredential, snapshotProxy } from '@idm/test-kit';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';

/**
 * The proxy path in-process: the real proxy handler behind the real dispatching HTTP
 * server, a real echo upstream, real undici pools; the snapshot is activated directly (the
 * Redis side is covered by config-sync.spec and the end-to-end spec).
 */
/** The echo upstream listens on loopback, which the upstream policy refuses unless allowed. */
const LOOPBACK_ALLOWED = new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] });

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

function send(port: number, path: string, options: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer[] } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (Array.isArray(options.body)) {
      // Written in pieces without a length: the body goes out chunked, as a stream.
      for (const chunk of options.body) req.write(chunk);
      req.end();
    } else req.end(options.body);
  });
}

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('proxy request handler', () => {
  const aliceKey = generateApiKey();
  const foreignKey = generateApiKey();
  const logLines: any[] = [];
  let echo: Server;
  let special: Server;
  /** What the special upstream saw: whether its response was cut off by the Gateway. */
  const specialEvents: string[] = [];
  let gateway: Server;
  let port: number;
  let closedPort: number;
  let pools: UpstreamPools;
  let active: ActiveConfiguration;
  let snapshot: ConfigSnapshot;

  beforeAll(async () => {
    echo = createEchoServer();
    const echoUrl = `http://127.0.0.1:${await listen(echo)}`;
    special = createServer((req, res) => {
      if (req.url === '/big') {
        // 8 MiB in 64 KiB writes, honouring backpressure: what a slow client must get intact.
        let left = 128;
        const more = () => {
          while (left > 0) {
            left--;
            if (!res.write(Buffer.alloc(64 * 1024, left % 251))) return void res.once('drain', more);
          }
          res.end();
        };
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return more();
      }
      if (req.url === '/slow') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part;');
        res.on('close', () => specialEvents.push(res.writableFinished ? 'finished' : 'cut off'));
        return void setTimeout(() => res.end('too late'), 5000).unref();
      }
      res.writeHead(200, [
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
        'Connection',
        'keep-alive, X-Hop',
        'X-Hop',
        'secret',
        'X-Request-Id',
        'upstream-chose-this',
        'X-Kept',
        'yes',
        'Content-Length',
        '2',
      ]);
      res.end('ok');
    });
    const specialUrl = `http://127.0.0.1:${await listen(special)}`;
    const doomed = createEchoServer();
    closedPort = await listen(doomed);
    await close(doomed); // nothing listens here any more: connections are refused

    const passwordHash = await hash('correct horse battery', { type: 2 });
    const proxy = (id: string, basePath: string, upstreamUrl: string, policies: ConfigSnapshot['proxies'][number]['policies'], methods = ['GET', 'HEAD', 'POST', 'PUT']) =>
      snapshotProxy({ id, name: id, basePath, upstreamUrl, methods, policies });
    snapshot = configSnapshot({
      proxies: [
        proxy('keyed', '/keyed', echoUrl, [{ type: 'api-key', config: {} }]),
        proxy('keyed-q', '/keyed-q', `${echoUrl}/base/`, [{ type: 'api-key', config: { queryParam: 'api_key' } }]),
        proxy('basic', '/basic', echoUrl, [{ type: 'basic-auth', config: { realm: 'test realm' } }]),
        proxy('open', '/open', echoUrl, [], ['GET', 'POST']),
        proxy('dead', '/dead', `http://127.0.0.1:${closedPort}`, []),
        proxy('broken', '/broken', echoUrl, [{ type: 'not-a-policy', config: {} }]),
        proxy('special', '/special', specialUrl, []),
      ],
      credentials: [
        snapshotCredential({ id: 'c-alice', username: 'alice', passwordHash, apiKeys: [{ id: 'k1', prefix: aliceKey.prefix, hash: aliceKey.hash, expiresAt: null }] }),
        snapshotCredential({ id: 'c-bob', projectId: 'proj-b', username: 'bob', apiKeys: [{ id: 'k2', prefix: foreignKey.prefix, hash: foreignKey.hash, expiresAt: null }] }),
      ],
    });

    const metrics = new GatewayMetrics();
    pools = new UpstreamPools({ connectTimeoutMs: 1000, headersTimeoutMs: 300, bodyTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connections: 16 }, LOOPBACK_ALLOWED);
    active = new ActiveConfiguration(pools, metrics);
    const sink = new Writable({ write: (chunk, _enc, done) => (logLines.push(JSON.parse(String(chunk))), done()) });
    const handler = new ProxyRequestHandler(active, metrics, { trustProxy: false, bodyLimit: 64 * 1024 }, pino({ level: 'info' }, sink));
    const http = new GatewayHttpServer();
    gateway = http.serverFactory((_req, res) => res.end('nest'));
    http.attach(handler.handle, (_req, res) => res.end('tokens'));
    port = await listen(gateway);
  });

  afterAll(async () => {
    await close(gateway);
    await pools.closeAll();
    await close(echo);
    special.closeAllConnections();
    await close(special);
  });

  it('answers 503 config_unavailable until a snapshot is active', async () => {
    const res = await send(port, '/keyed/x');
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ code: 'config_unavailable' });
    active.activate(snapshot);
  });

  it('leaves the Gateway’s own endpoints to Nest', async () => {
    expect((await send(port, '/health/live')).text).toBe('nest');
  });

  describe('api-key', () => {
    it('forwards with the identity, without the key, keeping path and query', async () => {
      const res = await send(port, '/keyed/items/7?x=1&y=two', { headers: { 'x-api-key': aliceKey.key } });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ method: 'GET', path: '/items/7', query: { x: '1', y: 'two' } });
      expect(res.json.headers['x-authenticated-userid']).toBe('alice');
      expect(res.json.headers['x-api-key']).toBeUndefined();
    });

    it('takes the key from the query parameter when enabled and strips it', async () => {
      const res = await send(port, `/keyed-q/items?a=1&api_key=${encodeURIComponent(aliceKey.key)}`);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ path: '/base/items', query: { a: '1' } });
      expect(res.json.headers['x-authenticated-userid']).toBe('alice');
    });

    it('maps the bare base path to the upstream base path', async () => {
      expect((await send(port, '/keyed-q?api_key=' + encodeURIComponent(aliceKey.key))).json.path).toBe('/base');
      expect((await send(port, '/keyed', { headers: { 'x-api-key': aliceKey.key } })).json.path).toBe('/');
    });

    it.each([
      ['no key', {}, 'missing_credentials'],
      ['an unknown key', { 'x-api-key': 'idm_nope_nope' }, 'invalid_api_key'],
      ['a key of another project', { 'x-api-key': foreignKey.key }, 'invalid_api_key'],
    ])('answers 401 to %s with the ApiKey challenge and a JSON reason', async (_, headers, code) => {
      const res = await send(port, '/keyed/x', { headers: { ...headers, 'x-request-id': 'req-401-check' } });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('ApiKey header="x-api-key"');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json).toEqual({ code, message: expect.any(String), requestId: 'req-401-check' });
    });

    it('logs the rejection with the request id', () => {
      expect(logLines).toContainEqual(expect.objectContaining({ reqId: 'req-401-check', msg: 'request rejected', code: 'missing_credentials', proxy: 'keyed' }));
    });
  });

  describe('basic-auth', () => {
    it('forwards with the identity and without Authorization', async () => {
      const res = await send(port, '/basic/me', { headers: { authorization: basic('alice', 'correct horse battery') } });
      expect(res.status).toBe(200);
      expect(res.json.headers['x-authenticated-userid']).toBe('alice');
      expect(res.json.headers.authorization).toBeUndefined();
    });

    it.each([
      ['a wrong password', basic('alice', 'wrong horse'), 'invalid_credentials'],
      ['an unknown user', basic('mallory', 'correct horse battery'), 'invalid_credentials'],
      ['a malformed header', 'Basic %%%', 'malformed_credentials'],
      ['no credentials', undefined, 'missing_credentials'],
    ])('answers 401 to %s with the Basic challenge', async (_, authorization, code) => {
      const res = await send(port, '/basic/me', { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="test realm", charset="UTF-8"');
      expect(res.json).toMatchObject({ code });
    });
  });

  describe('routing', () => {
    it.each(['/nope', '/keyedx/a', '/'])('answers 404 route_not_found for %s', async (path) => {
      const res = await send(port, path);
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ code: 'route_not_found' });
    });

    it('answers 405 with Allow for a method the proxy does not accept', async () => {
      const res = await send(port, '/open/x', { method: 'DELETE' });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, POST');
      expect(res.json).toMatchObject({ code: 'method_not_allowed' });
    });

    it('refuses dot segments that could climb out of the upstream base path', async () => {
      for (const path of ['/open/../admin', '/open/a/%2e%2e/b', '/open/%2E%2E%2Fadmin']) {
        const res = await send(port, path);
        expect({ path, status: res.status, code: res.json?.code }).toEqual({ path, status: 400, code: 'invalid_path' });
      }
    });

    it('fails closed (503) for a proxy whose chain does not compile', async () => {
      const res = await send(port, '/broken/x');
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ code: 'proxy_unavailable' });
    });
  });

  describe('upstream failures', () => {
    it('answers 502 upstream_unreachable when the upstream refuses connections', async () => {
      const res = await send(port, '/dead/x', { headers: { 'x-request-id': 'req-dead-1' } });
      expect(res.status).toBe(502);
      expect(res.json).toEqual({ code: 'upstream_unreachable', message: expect.any(String), requestId: 'req-dead-1' });
      expect(logLines).toContainEqual(expect.objectContaining({ reqId: 'req-dead-1', msg: 'upstream request failed', code: 'upstream_unreachable' }));
    });

    it('answers 504 upstream_timeout when the headers take longer than the timeout', async () => {
      const res = await send(port, '/open/delay/1500');
      expect(res.status).toBe(504);
      expect(res.json).toMatchObject({ code: 'upstream_timeout' });
    });

    it('passes upstream error statuses through untouched', async () => {
      expect((await send(port, '/open/status/418')).status).toBe(418);
    });
  });

  describe('headers', () => {
    it('strips hop-by-hop and identity headers from the request and sets X-Forwarded-*', async () => {
      const res = await send(port, '/open/h', {
        headers: {
          connection: 'keep-alive, x-hop-named',
          'x-hop-named': 'gone',
          'keep-alive': 'timeout=5',
          te: 'trailers',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          'x-authenticated-userid': 'mallory',
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'x-end-to-end': 'kept',
          host: 'api.example.test',
        },
      });
      const seen = res.json.headers;
      for (const name of ['x-hop-named', 'keep-alive', 'te', 'proxy-authorization', 'x-authenticated-userid']) expect(seen[name]).toBeUndefined();
      expect(seen['x-end-to-end']).toBe('kept');
      expect(seen['x-forwarded-for']).toBe('127.0.0.1'); // a chain from an untrusted client is not kept
      expect(seen['x-forwarded-proto']).toBe('http'); // not trusted from the client
      expect(seen['x-forwarded-host']).toBe('api.example.test');
      expect(seen.host).not.toBe('api.example.test');
    });

    it('strips the upstream’s hop-by-hop headers from the response', async () => {
      // The echo upstream answers with Connection/Keep-Alive of its own socket.
      const res = await send(port, '/open/h', { headers: { connection: 'close' } });
      expect(res.headers['keep-alive']).toBeUndefined();
      expect(res.headers['content-type']).toBe('application/json');
    });

    it('keeps a well-formed X-Request-Id end to end and replaces a malformed one', async () => {
      const kept = await send(port, '/open/id', { headers: { 'x-request-id': 'trace-123.abc' } });
      expect(kept.headers['x-request-id']).toBe('trace-123.abc');
      expect(kept.json.headers['x-request-id']).toBe('trace-123.abc');
      const replaced = await send(port, '/open/id', { headers: { 'x-request-id': 'not ok <script>' } });
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(replaced.json.headers['x-request-id']).toBe(replaced.headers['x-request-id']);
    });
  });

  describe('bodies', () => {
    it('streams a chunked request body to the upstream', async () => {
      const chunks = Array.from({ length: 40 }, (_, i) => Buffer.from(`${String(i).padStart(3, '0')}:${'x'.repeat(1020)}\n`));
      const res = await send(port, '/open/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: chunks });
      expect(res.status).toBe(200);
      expect(res.json.headers['transfer-encoding']).toBe('chunked');
      expect(res.json.body).toBe(Buffer.concat(chunks).toString('utf8'));
    });

    it('forwards a JSON body untouched (no parsing on the way)', async () => {
      const body = '{"a": 1,   "b": [true]}';
      const res = await send(port, '/open/json', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.json).toMatchObject({ method: 'POST', body });
    });

    it('refuses bodies over the limit with 413, declared or chunked', async () => {
      const declared = await send(port, '/open/big', { method: 'POST', headers: { 'content-length': String(65 * 1024) }, body: 'x'.repeat(65 * 1024) });
      expect(declared.status).toBe(413);
      expect(declared.json).toMatchObject({ code: 'payload_too_large' });
      const chunked = await send(port, '/open/big', { method: 'POST', body: Array.from({ length: 70 }, () => Buffer.alloc(1024, 120)) });
      expect(chunked.status).toBe(413);
    });
  });

  describe('responses', () => {
    it('keeps repeated headers, drops the ones Connection names, and answers with its own request id', async () => {
      const res = await send(port, '/special/h', { headers: { 'x-request-id': 'client-id-1' } });
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(res.headers['x-hop']).toBeUndefined();
      expect(res.headers['x-kept']).toBe('yes');
      expect(res.headers['x-request-id']).toBe('client-id-1');
      expect(res.text).toBe('ok');
    });

    it('streams a large answer to a slow client intact (backpressure both ways)', async () => {
      const digest = await new Promise<{ bytes: number; sha: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/special/big', agent: false }, (res) => {
          const sha = createHash('sha256');
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            sha.update(chunk);
            bytes += chunk.length;
            res.pause(); // a slow reader: the Gateway must wait, not buffer 8 MiB
            setTimeout(() => res.resume(), 1);
          });
          res.on('end', () => resolve({ bytes, sha: sha.digest('hex') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      const expected = createHash('sha256');
      for (let left = 127; left >= 0; left--) expected.update(Buffer.alloc(64 * 1024, left % 251));
      expect(digest).toEqual({ bytes: 8 * 1024 * 1024, sha: expected.digest('hex') });
    }, 30000);

    it('cancels the upstream request when the client goes away mid-answer', async () => {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/special/slow', agent: false, headers: { 'x-request-id': 'gone-1' } }, (res) => {
          res.once('data', () => {
            req.destroy(); // the client hangs up after the first part
            resolve();
          });
        });
        req.on('error', () => undefined);
        req.end();
        setTimeout(() => reject(new Error('no first part')), 3000).unref();
      });
      const deadline = Date.now() + 3000;
      while (specialEvents.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(specialEvents).toEqual(['cut off']);
      expect(logLines).toContainEqual(expect.objectContaining({ reqId: 'gone-1', msg: 'client closed the request' }));
    });
  });

  it('closes the pool of an upstream no proxy uses any more', async () => {
    expect(pools.origins).toContain(`http://127.0.0.1:${closedPort}`);
    active.activate({ ...snapshot, revision: 2, proxies: snapshot.proxies.filter((p) => p.id !== 'dead') });
    expect(pools.origins).not.toContain(`http://127.0.0.1:${closedPort}`);
    expect((await send(port, '/dead/x')).status).toBe(404);
  });
});
