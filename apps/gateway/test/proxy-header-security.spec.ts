import type { ConfigSnapshot } from '@idm/config-bus';
import { generateApiKey, UpstreamPolicy } from '@idm/domain';
import { signJwt, SigningKeyRing, type JwtClaims } from '@idm/tokens';
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import pino from 'pino';
import { box, configSnapshot, createEchoServer, snapshotCredential, snapshotKey, snapshotProxy } from '@idm/test-kit';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ClientIpResolver } from '../src/http/client-ip';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';

/**
 * What a client can smuggle to the upstream through headers and paths (issue #11): a real
 * Gateway proxy path in-process in front of the real echo upstream, which reports exactly the
 * headers and path it received. Requests go out through node:http or, where a client library
 * would normalize the target first, a raw socket.
 */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: any;
}

function send(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, json: text.startsWith('{') ? JSON.parse(text) : text });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The request line exactly as written, for targets an HTTP client would tidy up. */
function sendRaw(port: number, target: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    // Not half-closed: the Gateway treats a client that stops sending as one that went away.
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), json: body.startsWith('{') ? JSON.parse(body) : body });
    });
  });
}

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
/** RFC 2047 encoded-word of a UTF-8 string: how the Gateway forwards a claim a header cannot carry. */
const encodedWord = (value: string) => `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;

describe('proxy: headers and paths a client must not control', () => {
  const aliceKey = generateApiKey();
  const key = snapshotKey('RS256');
  const { ring } = SigningKeyRing.fromSnapshot([key], box);
  const signer = ring.signer(Date.now())!;
  const now = () => Math.floor(Date.now() / 1000);
  const token = (extra: JwtClaims) =>
    signJwt(
      { iss: 'https://gw.test/credential', sub: 'c-alice', aud: ['/jwt'], iat: now(), nbf: now(), exp: now() + 300, jti: 'j1', scope: 'read', roles: ['reader'], ...extra },
      signer,
    );

  let echo: Server;
  let pools: UpstreamPools;
  /** One Gateway that trusts no hop, one that trusts 127.0.0.1 (GATEWAY_TRUSTED_PROXIES). */
  let untrusted: { server: Server; port: number };
  let trusted: { server: Server; port: number };

  beforeAll(async () => {
    echo = createEchoServer();
    const echoUrl = `http://127.0.0.1:${await listen(echo)}`;
    const proxy = (id: string, basePath: string, upstreamUrl: string, policies: ConfigSnapshot['proxies'][number]['policies']) =>
      snapshotProxy({ id, name: id, basePath, upstreamUrl, methods: ['GET'], policies });
    const snapshot = configSnapshot({
      proxies: [
        proxy('keyed', '/keyed', echoUrl, [{ type: 'api-key', config: {} }]),
        proxy('open', '/open', `${echoUrl}/base`, []),
        proxy('jwt', '/jwt', echoUrl, [
          { type: 'jwt-auth', config: { issuers: ['https://gw.test/credential'], claimHeaders: { email: 'X-User-Email', name: 'x-user-name', note: 'x-note', team: 'x-team' } } },
        ]),
      ],
      credentials: [
        snapshotCredential({ id: 'c-alice', username: 'alice', apiKeys: [{ id: 'k1', prefix: aliceKey.prefix, hash: aliceKey.hash, expiresAt: null }], roles: ['reader'] }),
      ],
      signingKeys: [key],
    });

    const metrics = new GatewayMetrics();
    pools = new UpstreamPools(
      { connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, keepAliveTimeoutMs: 1000, connections: 16 },
      new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] }),
    );
    const active = new ActiveConfiguration(pools, metrics, { secrets: box });
    active.activate(snapshot);
    expect(active.current!.problems).toEqual([]);
    const start = async (clientIp: { header: string | null; position: 'first' | 'last'; trustedProxies: string[] }) => {
      const handler = new ProxyRequestHandler(
        active,
        metrics,
        { trustProxy: false, bodyLimit: 64 * 1024, clientIp },
        pino({ level: 'silent' }),
        clientIp.header === null ? null : new ClientIpResolver(clientIp),
      );
      const http = new GatewayHttpServer();
      const server = http.serverFactory((_req, res) => res.end('nest'));
      http.attach(handler.handle, (_req, res) => res.end('tokens'));
      return { server, port: await listen(server) };
    };
    untrusted = await start({ header: null, position: 'last', trustedProxies: [] });
    trusted = await start({ header: 'x-forwarded-for', position: 'last', trustedProxies: ['127.0.0.1'] });
  });

  afterAll(async () => {
    await close(untrusted.server);
    await close(trusted.server);
    await pools.closeAll();
    await close(echo);
  });

  describe('identity headers (#11 item 5)', () => {
    it('drops client identity headers in every spelling, and sends the roles header only when the Gateway sets it', async () => {
      const res = await send(untrusted.port, '/keyed/me', {
        'x-api-key': aliceKey.key,
        X_Authenticated_UserId: 'mallory',
        'X-Authenticated_UserRoles': 'admin',
        x_authenticated_userroles: 'admin',
        'x-authenticated-userroles': 'admin',
        X_AUTHENTICATED_ANYTHING: 'x',
      });
      expect(res.status).toBe(200);
      const identity = Object.entries(res.json.headers).filter(([name]) => /^x[-_]authenticated[-_]/i.test(name));
      // api-key sets no roles: the header is absent, not the client's.
      expect(identity).toEqual([['x-authenticated-userid', 'alice']]);
    });

    it('drops underscore spellings of the forwarding headers and X-Request-Id, and httpoxy’s Proxy', async () => {
      const res = await send(untrusted.port, '/open/h', {
        X_Forwarded_For: '203.0.113.66',
        x_forwarded_host: 'evil.test',
        X_Request_Id: 'forged',
        x_real_ip: '203.0.113.66',
        proxy: 'http://evil.test:3128',
        Proxy_Authorization: 'Basic eDp5',
      });
      const names = Object.keys(res.json.headers);
      expect(names.filter((n) => n.includes('_'))).toEqual([]);
      expect(res.json.headers.proxy).toBeUndefined();
      expect(res.json.headers['x-forwarded-for']).toBe('127.0.0.1');
    });

    it('drops a client header named like one of the proxy’s claim headers, also when the token lacks that claim', async () => {
      const res = await send(untrusted.port, '/jwt/me', {
        authorization: `Bearer ${token({ email: 'alice@example.test' })}`,
        'x-team': 'admins',
        X_Team: 'admins',
        X_User_Email: 'mallory@evil.test',
      });
      expect(res.status).toBe(200);
      expect(res.json.headers['x-user-email']).toBe('alice@example.test');
      expect(res.json.headers['x-team']).toBeUndefined();
      expect(Object.keys(res.json.headers).filter((n) => n.includes('_'))).toEqual([]);
      expect(res.json.headers['x-authenticated-userroles']).toBe('reader');
    });
  });

  describe('claims as header values (#11 item 14)', () => {
    it('forwards CR/LF and non-Latin-1 claims as RFC 2047 encoded-words instead of failing with 502', async () => {
      const claims = { name: 'Zoë 李', note: 'line one\r\nX-Injected: yes', email: '=?UTF-8?B?Zm9v?=', team: ['a', 'b'] };
      const res = await send(untrusted.port, '/jwt/me', { authorization: `Bearer ${token(claims)}` });
      expect(res.status).toBe(200);
      expect(res.json.headers['x-user-name']).toBe(encodedWord('Zoë 李'));
      expect(res.json.headers['x-note']).toBe(encodedWord('line one\r\nX-Injected: yes'));
      expect(res.json.headers['x-injected']).toBeUndefined();
      expect(res.json.headers['x-user-email']).toBe(encodedWord('=?UTF-8?B?Zm9v?=')); // looks encoded: encoded again, so decoding is unambiguous
      expect(res.json.headers['x-team']).toBe('a,b'); // plain ASCII goes as it is
    });
  });

  describe('proxy headers from the client (#11 item 12)', () => {
    const forged = {
      host: 'api.example.test',
      forwarded: 'for=203.0.113.66;host=evil.test;proto=https',
      'x-forwarded-for': '203.0.113.66',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.test',
      'x-forwarded-port': '443',
      'x-forwarded-prefix': '/admin',
      'x-real-ip': '203.0.113.66',
      'true-client-ip': '203.0.113.66',
      'x-client-ip': '203.0.113.66',
      'cf-connecting-ip': '203.0.113.66',
      'x-original-url': '/admin/delete',
      'x-rewrite-url': '/admin/delete',
      'x-forwarded-ssl': 'on',
      'x-http-method-override': 'DELETE',
      'x-end-to-end': 'kept',
    };

    it('from an untrusted peer: forwarding headers are the Gateway’s own, URL and address overrides are gone', async () => {
      const seen = (await send(untrusted.port, '/open/h', forged)).json.headers;
      expect(seen).toMatchObject({
        forwarded: 'for=127.0.0.1;host="api.example.test";proto=http',
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'api.example.test',
        'x-forwarded-port': String(untrusted.port),
        'x-real-ip': '127.0.0.1',
        'x-end-to-end': 'kept',
      });
      for (const name of [
        'x-forwarded-prefix',
        'true-client-ip',
        'x-client-ip',
        'cf-connecting-ip',
        'x-original-url',
        'x-rewrite-url',
        'x-forwarded-ssl',
        'x-http-method-override',
      ])
        expect({ name, value: seen[name] }).toEqual({ name, value: undefined });
    });

    it('from a trusted hop: its chain is extended, its proto/host/port/prefix kept; URL overrides still gone', async () => {
      const seen = (await send(trusted.port, '/open/h', forged)).json.headers;
      expect(seen).toMatchObject({
        forwarded: 'for=203.0.113.66;host=evil.test;proto=https, for=127.0.0.1;host="api.example.test";proto=http',
        'x-forwarded-for': '203.0.113.66, 127.0.0.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.test',
        'x-forwarded-port': '443',
        'x-forwarded-prefix': '/admin',
        'x-real-ip': '203.0.113.66', // the client address the Gateway's rules used
      });
      for (const name of ['true-client-ip', 'x-client-ip', 'cf-connecting-ip', 'x-original-url', 'x-rewrite-url', 'x-forwarded-ssl', 'x-http-method-override'])
        expect({ name, value: seen[name] }).toEqual({ name, value: undefined });
    });
  });

  describe('paths (#11 item 6)', () => {
    it.each([
      '/open/..;/admin',
      '/open/a/..;jsessionid=1/b',
      '/open/.;/admin',
      '/open/%2e%2e;/admin',
      '/open/.%2e;x=1/admin',
      '/open/..%3b/admin',
      '/open/%252e%252e/admin',
      '/open/%25252e%25252e/admin',
      '/open/..%5cadmin',
      '/open/a%5c..%5c..%5cadmin',
      '/open/%c0%ae%c0%ae/admin',
      '/open/%u002e%u002e/admin',
      '/open/..%20/admin',
      '/open/.%00./admin',
      '/open/file%00.json',
    ])('refuses %s with 400 invalid_path', async (target) => {
      const res = await sendRaw(untrusted.port, target);
      expect({ target, status: res.status, code: res.json?.code }).toEqual({ target, status: 400, code: 'invalid_path' });
    });

    it('refuses a NUL byte in the query with 400 invalid_query', async () => {
      const res = await sendRaw(untrusted.port, '/open/files?name=a%00.txt');
      expect({ status: res.status, code: res.json?.code }).toEqual({ status: 400, code: 'invalid_query' });
    });

    it.each(['/open/v1.2/file.tar.gz', '/open/.well-known/x', '/open/...', '/open/a;b=1/c', '/open/..a/b.', '/open/100%25', '/open/%2e%2ea'])(
      'forwards the harmless %s unchanged',
      async (target) => {
        const res = await sendRaw(untrusted.port, target);
        expect(res.status).toBe(200);
        expect(res.json.path).toBe(new URL(`/base${target.slice('/open'.length)}`, 'http://x').pathname);
      },
    );
  });
});
