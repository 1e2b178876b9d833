import type { ConfigSnapshot } from '@idm/config-bus';
import { UpstreamPolicy } from '@idm/domain';
import { request as httpRequest, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { configSnapshot, createEchoServer, snapshotProxy } from '@idm/test-kit';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { parseGatewayConfig } from '../src/config/gateway-config';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';

/**
 * The upstream policy where the Gateway enforces it: on the address a connection is about to be
 * opened to. Real echo upstream and a real TCP listener standing in for Redis, counted so a
 * refused upstream is shown to receive nothing, not just to be answered 502.
 */
const listen = (server: Server | TcpServer) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const close = (server: Server | TcpServer) => new Promise<void>((resolve) => server.close(() => resolve()));

function get(port: number, path: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
    });
    req.on('error', reject).end();
  });
}

interface Gateway {
  port: number;
  logs: any[];
  stop(): Promise<void>;
}

/** A Gateway's proxy path with the policy parsed from these variables, serving `proxies`. */
async function startGateway(env: Record<string, string>, proxies: [basePath: string, upstreamUrl: string][]): Promise<Gateway> {
  const logs: any[] = [];
  const config = parseGatewayConfig(env);
  const pools = new UpstreamPools({ ...config.upstream, connectTimeoutMs: 1000 }, new UpstreamPolicy(config.upstreamPolicy));
  const metrics = new GatewayMetrics();
  const active = new ActiveConfiguration(pools, metrics);
  const snapshot: ConfigSnapshot = configSnapshot({
    proxies: proxies.map(([basePath, upstreamUrl], i) => snapshotProxy({ id: `p${i}`, projectId: 'proj', name: `p${i}`, basePath, upstreamUrl, methods: ['GET'] })),
  });
  active.activate(snapshot);
  const sink = new Writable({ write: (chunk, _e, done) => (logs.push(JSON.parse(String(chunk))), done()) });
  const handler = new ProxyRequestHandler(active, metrics, { trustProxy: false, bodyLimit: 1024 }, pino({ level: 'info' }, sink));
  const http = new GatewayHttpServer();
  const server = http.serverFactory((_req, res) => res.end('nest'));
  http.attach(handler.handle, (_req, res) => res.end('tokens'));
  const port = await listen(server);
  return { port, logs, stop: async () => (await close(server), await pools.closeAll()) };
}

describe('Gateway upstream policy (checked at connect time)', () => {
  let echo: Server;
  let echoPort: number;
  let echoRequests = 0;
  let fakeRedis: TcpServer;
  let fakeRedisPort: number;
  let fakeRedisConnections = 0;

  beforeAll(async () => {
    echo = createEchoServer();
    echo.on('request', () => echoRequests++);
    echoPort = await listen(echo);
    fakeRedis = createTcpServer((socket) => (fakeRedisConnections++, socket.end('-ERR not for proxies\r\n')));
    fakeRedisPort = await listen(fakeRedis);
  });

  afterAll(async () => {
    await close(echo);
    await close(fakeRedis);
  });

  it('refuses loopback by default, by address and through a name that resolves to it; the upstream sees nothing', async () => {
    const gateway = await startGateway({}, [
      ['/by-address', `http://127.0.0.1:${echoPort}`],
      ['/by-name', `http://localhost:${echoPort}`],
    ]);
    try {
      const before = echoRequests;
      for (const path of ['/by-address/x', '/by-name/x']) {
        const res = await get(gateway.port, path);
        expect(res).toEqual({
          status: 502,
          json: { code: 'upstream_forbidden', message: "The upstream is not allowed by the Gateway's upstream policy", requestId: expect.any(String) },
        });
      }
      expect(echoRequests).toBe(before);
      expect(gateway.logs).toContainEqual(expect.objectContaining({ msg: 'upstream request failed', code: 'upstream_forbidden', reason: 'IDM_UPSTREAM_FORBIDDEN' }));
    } finally {
      await gateway.stop();
    }
  });

  it('lets an explicit UPSTREAM_ALLOW through (the same upstream answers)', async () => {
    const gateway = await startGateway({ UPSTREAM_ALLOW: '127.0.0.1,::1' }, [
      ['/by-address', `http://127.0.0.1:${echoPort}`],
      ['/by-name', `http://localhost:${echoPort}`],
    ]);
    try {
      expect((await get(gateway.port, '/by-address/x')).status).toBe(200);
      expect((await get(gateway.port, '/by-name/x')).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  it("never connects to the installation's Redis, even with internal addresses allowed", async () => {
    const redisUrl = `redis://127.0.0.1:${fakeRedisPort}`;
    const gateway = await startGateway({ UPSTREAM_ALLOW_INTERNAL: 'true', REDIS_URL: redisUrl }, [
      ['/redis', `http://127.0.0.1:${fakeRedisPort}`],
      ['/redis-by-name', `http://localhost:${fakeRedisPort}`],
      ['/echo', `http://127.0.0.1:${echoPort}`],
    ]);
    try {
      expect((await get(gateway.port, '/redis/x')).json.code).toBe('upstream_forbidden');
      expect((await get(gateway.port, '/redis-by-name/x')).json.code).toBe('upstream_forbidden');
      expect(fakeRedisConnections).toBe(0);
      expect((await get(gateway.port, '/echo/x')).status).toBe(200); // the same host at another port is fine
    } finally {
      await gateway.stop();
    }
  });

  it('refuses what UPSTREAM_DENY names (host:port of the Manager), whatever UPSTREAM_ALLOW says', async () => {
    const gateway = await startGateway({ UPSTREAM_ALLOW: '127.0.0.1', UPSTREAM_DENY: `localhost:${echoPort}` }, [['/manager', `http://127.0.0.1:${echoPort}`]]);
    try {
      const before = echoRequests;
      expect((await get(gateway.port, '/manager/x')).json.code).toBe('upstream_forbidden');
      expect(echoRequests).toBe(before);
    } finally {
      await gateway.stop();
    }
  });
});
