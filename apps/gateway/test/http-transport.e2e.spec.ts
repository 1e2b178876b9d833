import { EnvironmentConfigStore, type ConfigSnapshot } from '@idm/config-bus';
import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { configSnapshot, eventually, freePort, gatewayNodeFlags, snapshotProxy } from '@idm/test-kit';
import { parseResponse, RawClient } from './support/raw-client';

/**
 * The transport rules of http-transport.spec in the built Gateway process (dist/main.js): the
 * timeouts come from the environment, Fastify (which shares the listener) adds no answer of its
 * own to a malformed request, and token traffic is held to the same timeouts as proxy traffic.
 */
const MAIN = join(resolve(__dirname, '../../..'), 'apps/gateway/dist/main.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const HEADERS_TIMEOUT_MS = 300;
const BODY_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 1_200;

describe('Gateway process: HTTP transport', () => {
  const environment = `gw-transport-${randomBytes(5).toString('hex')}`;
  let redis: Redis;
  let store: EnvironmentConfigStore;
  let upstream: Server;
  let upstreamRequests = 0;
  let gateway: ChildProcess;
  let port: number;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx turbo run build)`);
    redis = new Redis(REDIS_URL);
    store = new EnvironmentConfigStore(redis);
    upstream = createServer((req, res) => {
      upstreamRequests++;
      req.resume().on('end', () => res.end('ok'));
    });
    await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', () => done()));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const snapshot: ConfigSnapshot = configSnapshot({
      environment,
      epoch: 'e2e',
      proxies: [
        snapshotProxy({ id: 'open', projectId: 'proj', name: 'open', basePath: '/open', upstreamUrl, methods: ['GET', 'POST'] }),
        snapshotProxy({ id: 'keyed', projectId: 'proj', name: 'keyed', basePath: '/keyed', upstreamUrl, methods: ['POST'], policies: [{ type: 'api-key', config: {} }] }),
      ],
    });
    await store.write(snapshot);
    port = await freePort();
    gateway = spawn(process.execPath, [...gatewayNodeFlags(), MAIN], {
      env: {
        ...process.env,
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_ENVIRONMENT: environment,
        REDIS_URL,
        LOG_LEVEL: 'warn',
        UPSTREAM_ALLOW: '127.0.0.1',
        GATEWAY_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        GATEWAY_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        GATEWAY_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
      },
      stdio: 'ignore',
    });
    await eventually(
      () =>
        fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (r) => r.ok,
          () => false,
        ),
      (ready) => ready,
      { what: 'the gateway to become ready' },
    );
  }, 40_000);

  afterAll(async () => {
    gateway?.kill('SIGKILL');
    await store.remove(environment);
    redis.disconnect();
    await new Promise((done) => upstream.close(done));
  });

  it('answers a malformed request once, with its own error body (not Fastify’s as well)', async () => {
    const wire = await new RawClient(port).send('GET /open/x HTTP/1.1\r\nHost gw\r\n\r\n').untilClosed();
    expect(wire.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    const res = parseResponse(wire);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ code: 'malformed_request', message: expect.any(String), requestId: expect.any(String) });
  });

  it.each([
    ['a proxy', 'POST /open/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\npart'],
    ['the token service', 'POST /credential/token HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type='],
  ])('answers 408 to a body for %s that stops arriving, after GATEWAY_BODY_TIMEOUT_MS', async (_, bytes) => {
    const started = Date.now();
    const res = parseResponse(await new RawClient(port).send(bytes).untilClosed());
    expect(Date.now() - started).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'request_timeout' });
  });

  it('answers 408 to a body that keeps moving, after GATEWAY_REQUEST_TIMEOUT_MS', async () => {
    const started = Date.now();
    const client = new RawClient(port).send('POST /open/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n');
    const trickle = setInterval(() => client.send('x'), BODY_TIMEOUT_MS / 3);
    try {
      const res = parseResponse(await client.untilClosed(REQUEST_TIMEOUT_MS + 2_000));
      expect(res.status).toBe(408);
      expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 1_000);
    } finally {
      clearInterval(trickle);
    }
  });

  it('answers 408 to a head that never completes, after GATEWAY_HEADERS_TIMEOUT_MS', async () => {
    const started = Date.now();
    const res = parseResponse(await new RawClient(port).send('GET /health/live HTTP/1.1\r\nHost: gw\r\n').untilClosed());
    expect(Date.now() - started).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
    expect(res.status).toBe(408);
  });

  it('checks the policies before answering 100 Continue', async () => {
    const before = upstreamRequests;
    const wire = await new RawClient(port).send('POST /keyed/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n').untilClosed();
    expect(wire).toMatch(/^HTTP\/1\.1 401 /);
    expect(upstreamRequests).toBe(before);
  });

  it('answers 100 Continue at once on the Gateway’s own endpoints', async () => {
    const client = new RawClient(port).send(
      'POST /credential/token HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
    );
    await client.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    client.send('a=b&c');
    await client.waitFor(/\r\n\r\nHTTP\/1\.1 [45]\d\d /);
    client.destroy();
  });
});
