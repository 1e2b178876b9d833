import { EnvironmentConfigStore } from '@idm/config-bus';
import { configSnapshot, eventually, freePort, listenOnLoopback, RedisProcess, snapshotKey, TEST_MASTER_KEYS, type RunningServer } from '@idm/test-kit';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import { createServer, request } from 'node:http';
import pino from 'pino';
import { parseGatewayConfig } from '../src/config/gateway-config';
import { GatewayModule } from '../src/gateway.module';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { TokenHttpHandler } from '../src/token-service/token-http.handler';

/**
 * The "Sign in with <source>" start (`POST /credential/external/start`, OIDC and SAML IdPs) is
 * limited per client address across Gateways (EXTERNAL_LOGIN_START_LIMIT per minute): two
 * Gateways in-process on one private redis-server, requests from two loopback addresses. Past the
 * limit: 429 `rate_limited` with Retry-After, whatever the body and whatever X-Forwarded-For says
 * (no trusted proxy here, so the header cannot buy a fresh address); another address is not held.
 */
const ENVIRONMENT = 'external-start-limit';
const LIMIT = 3;

describe('external IdP login start: rate limit per client address', () => {
  let redisServer: RedisProcess;
  let redis: Redis;
  const gateways: INestApplicationContext[] = [];
  const listeners: RunningServer[] = [];

  /** A POST from a chosen loopback address (Linux answers on all of 127/8). */
  const start = (listener: RunningServer, from: string, headers: Record<string, string> = {}, body = 'transaction=forged&csrf=forged&source=corp') =>
    new Promise<{ status: number; retryAfter: string | undefined; text: string }>((resolve, reject) => {
      const url = new URL(`${listener.url}/credential/external/start`);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          localAddress: from,
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  beforeAll(async () => {
    redisServer = new RedisProcess(await freePort());
    await redisServer.start();
    redis = new Redis(redisServer.url);
    await new EnvironmentConfigStore(redis).write(configSnapshot({ environment: ENVIRONMENT, signingKeys: [snapshotKey('RS256')] }));
    const config = parseGatewayConfig({
      GATEWAY_ENVIRONMENT: ENVIRONMENT,
      REDIS_URL: redisServer.url,
      IDM_MASTER_KEYS: TEST_MASTER_KEYS,
      LOG_LEVEL: 'silent',
      EXTERNAL_LOGIN_START_LIMIT: String(LIMIT),
    });
    for (let i = 0; i < 2; i++) {
      const gateway = await NestFactory.createApplicationContext(GatewayModule.forRoot(config, pino({ level: 'silent' })), { logger: false });
      gateways.push(gateway);
      await eventually(
        () => gateway.get(ActiveConfiguration).revision,
        (revision) => revision === 1,
        { what: 'the snapshot to be active' },
      );
      listeners.push(await listenOnLoopback(createServer(gateway.get(TokenHttpHandler).handle)));
    }
  });

  afterAll(async () => {
    for (const listener of listeners) await listener.close();
    for (const gateway of gateways) await gateway.close();
    redis?.disconnect();
    await redisServer?.stop(); // a private server: every key it held goes with it
  });

  it('lets an address start LIMIT sign-ins a minute, across Gateways, then answers 429 rate_limited with Retry-After', async () => {
    const [a, b] = listeners as [RunningServer, RunningServer];
    // Forged transactions: refused for what they are (never a 429, never a 500) while under the limit, on either Gateway.
    for (const listener of [a, b, a]) {
      const res = await start(listener, '127.0.0.1');
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.status).not.toBe(429);
    }
    for (const listener of [a, b]) {
      const limited = await start(listener, '127.0.0.1');
      expect(limited.status).toBe(429);
      expect(limited.text).toContain('data-code="rate_limited"');
      expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(limited.retryAfter)).toBeLessThanOrEqual(60);
    }
    // The counter lives in Redis for the window only.
    const [key] = await redis.keys(`{idm:oidc:${ENVIRONMENT}}:external-start:*`);
    expect(key).toContain('127.0.0.1');
    expect(await redis.pttl(key!)).toBeGreaterThan(0);
    expect(await redis.pttl(key!)).toBeLessThanOrEqual(60_000);
  });

  it('cannot be escaped with a forwarded-for header (no trusted proxy) nor with an oversized or empty body; another address is not held', async () => {
    const [a] = listeners as [RunningServer];
    const spoofs: Record<string, string>[] = [
      { 'x-forwarded-for': '198.51.100.7' },
      { 'x-forwarded-for': '127.0.0.9, 10.0.0.1' },
      { 'x-real-ip': '203.0.113.5' },
      { forwarded: 'for=192.0.2.60' },
    ];
    for (const headers of spoofs) {
      expect((await start(a, '127.0.0.1', headers)).status).toBe(429);
    }
    expect((await start(a, '127.0.0.1', {}, '')).status).toBe(429);
    expect((await start(a, '127.0.0.1', {}, `transaction=${'x'.repeat(200_000)}`)).status).toBe(429);
    const other = await start(a, '127.0.0.2');
    expect(other.status).not.toBe(429);
    expect(other.status).toBeLessThan(500);
  });
});
