import { generateApiKey } from '@idm/domain';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext, type PolicyOutcome } from '../policy';
import { RedisRateLimitStore } from './redis-rate-limit.store';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

/** Real Redis (127.0.0.1:6379), a unique key prefix per run, deleted afterwards. */
describe('rate limits (real Redis)', () => {
  const prefix = `idm-test:rl:${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  let other: Redis;
  const key = generateApiKey();
  const key2 = generateApiKey();

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const connections: Redis[] = [];
  beforeAll(() => {
    redis = new Redis(redisUrl, { enableAutoPipelining: true });
    other = new Redis(redisUrl);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await other.quit();
    for (const c of connections) c.disconnect();
  });

  /** A connection of its own, set up like the Gateway's (no offline queue), ready to use. */
  async function connection(url = redisUrl): Promise<Redis> {
    const c = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    connections.push(c);
    await new Promise((ready) => c.once('ready', ready));
    return c;
  }

  /** A store on its own connection that counts its script calls (round trips to Redis). */
  async function countingStore(url?: string) {
    const c = await connection(url);
    const store = new RedisRateLimitStore(c, prefix);
    const calls = jest.spyOn(c as unknown as { idmConsumeRateLimit: () => Promise<unknown> }, 'idmConsumeRateLimit');
    return { store, calls: () => calls.mock.calls.length };
  }

  /** The start of the current window: keys expire relative to the (frozen) clock, so they live a whole window. */
  const windowStart = (seconds: number) => Date.now() - (Date.now() % (seconds * 1000));

  function gateway(options: {
    id?: string;
    policies?: { type: string; config: Record<string, unknown> }[];
    access?: Record<string, unknown>;
    store?: RedisRateLimitStore;
    now?: () => number;
    onError?: (e: unknown) => void;
  }) {
    const id = options.id ?? randomBytes(4).toString('hex');
    const snapshot = configSnapshot({
      environment: 't',
      proxies: [
        snapshotProxy({
          id: `p-${id}`,
          projectId: 'p',
          name: 'x',
          basePath: '/x',
          upstreamUrl: 'http://127.0.0.1:1',
          methods: ['GET'],
          policies: options.policies ?? [{ type: 'api-key', config: {} }],
        }),
      ],
      credentials: [
        snapshotCredential({
          id: `c-${id}`,
          projectId: 'p',
          username: 'a',
          access: options.access ?? {},
          apiKeys: [{ id: 'k', prefix: key.prefix, hash: key.hash, expiresAt: null }],
        }),
        snapshotCredential({
          id: `d-${id}`,
          projectId: 'p',
          username: 'b',
          access: options.access ?? {},
          apiKeys: [{ id: 'k2', prefix: key2.prefix, hash: key2.hash, expiresAt: null }],
        }),
      ],
    });
    const proxy = compileEnvironment(snapshot, {
      rateLimitStore: options.store ?? new RedisRateLimitStore(redis, prefix),
      now: options.now,
      onRateLimitStoreError: options.onError,
    }).route('/x')!;
    return async (apiKey = key.key, clientIp = '10.0.0.1') => {
      const ctx = createRequestContext({ method: 'GET', path: '/x', headers: { 'x-api-key': apiKey }, query: '', clientIp });
      const result = proxy.runPolicies(ctx);
      // sync: decided without waiting for Redis.
      return { outcome: await result, ctx, sync: !(result instanceof Promise) };
    };
  }

  it('per credential (from the credential access rules): N per fixed window, then 429 with Retry-After and RateLimit-*', async () => {
    const call = gateway({ access: { rateLimit: { limits: [{ limit: 3, windowSeconds: 60 }] } }, now: () => Date.UTC(2025, 0, 1, 0, 0, 30) });
    const first = await call();
    expect(first.outcome).toBeUndefined();
    expect(first.ctx.responseHeaders).toEqual({ 'ratelimit-limit': '3', 'ratelimit-remaining': '2', 'ratelimit-reset': '30', 'ratelimit-policy': '3;w=60' });
    await call();
    expect((await call()).ctx.responseHeaders?.['ratelimit-remaining']).toBe('0');
    expect((await call()).outcome).toEqual({
      status: 429,
      code: 'rate_limited',
      message: expect.any(String),
      headers: { 'ratelimit-limit': '3', 'ratelimit-remaining': '0', 'ratelimit-reset': '30', 'ratelimit-policy': '3;w=60', 'retry-after': '30' },
    });
    expect((await call(key2.key)).outcome).toBeUndefined(); // another credential has its own counter
  });

  it('sliding window admits again once the oldest admission leaves the window', async () => {
    let now = 1_000_000;
    const call = gateway({ access: { rateLimit: { limits: [{ limit: 2, windowSeconds: 10, algorithm: 'sliding' }] } }, now: () => now });
    expect((await call()).outcome).toBeUndefined();
    now += 4000;
    expect((await call()).outcome).toBeUndefined();
    now += 4000;
    const refused = (await call()).outcome!;
    expect(refused).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(refused.headers!['retry-after']).toBe('2'); // the first admission leaves the window in 2 s
    now += 2001;
    expect((await call()).outcome).toBeUndefined();
  });

  it('never asks a client to wait longer than the window, also when another Gateway counted an admission stamped after this request', async () => {
    // Two Gateways take their clocks when a request arrives; the later one's admission can reach Redis first.
    const access = { rateLimit: { limits: [{ limit: 1, windowSeconds: 10, algorithm: 'sliding' }] } };
    const id = randomBytes(4).toString('hex');
    const later = gateway({ id, access, now: () => 1_000_300 });
    const earlier = gateway({ id, access, store: new RedisRateLimitStore(other, prefix), now: () => 1_000_000 });
    expect((await later()).outcome).toBeUndefined();
    const refused = (await earlier()).outcome!;
    expect(refused).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(refused.headers!['retry-after']).toBe('10');
  });

  it('quota per day gives quota_exceeded; a request refused by one counter is not charged to the others', async () => {
    const call = gateway({ access: { rateLimit: { limits: [{ limit: 100, windowSeconds: 60 }], quotas: [{ limit: 2, period: 'day' }] } }, now: () => Date.UTC(2025, 0, 1, 23, 0) });
    await call();
    await call();
    const refused = (await call()).outcome!;
    expect(refused).toMatchObject({ status: 429, code: 'quota_exceeded' });
    expect(refused.headers!['retry-after']).toBe('3600');
    expect(refused.headers!['ratelimit-policy']).toBe('100;w=60, 2;w=86400');
  });

  it('per-proxy policy: keyed by proxy, credential or client IP', async () => {
    const byProxy = gateway({
      policies: [
        { type: 'api-key', config: {} },
        { type: 'rate-limit', config: { keyBy: 'proxy', limits: [{ limit: 1, windowSeconds: 60 }] } },
      ],
    });
    expect((await byProxy()).outcome).toBeUndefined();
    expect((await byProxy(key2.key)).outcome).toMatchObject({ status: 429, code: 'rate_limited' });
    const byIp = gateway({ policies: [{ type: 'rate-limit', config: { keyBy: 'ip', limits: [{ limit: 1, windowSeconds: 60 }] } }] });
    expect((await byIp(undefined, '10.0.0.1')).outcome).toBeUndefined();
    expect((await byIp(undefined, '10.0.0.2')).outcome).toBeUndefined();
    expect((await byIp(undefined, '10.0.0.1')).outcome).toMatchObject({ code: 'rate_limited' });
    const byCredentialWithoutAuth = gateway({ policies: [{ type: 'rate-limit', config: { limits: [{ limit: 1, windowSeconds: 60 }] } }] });
    expect((await byCredentialWithoutAuth()).outcome).toMatchObject({ status: 401, code: 'missing_credentials' });
  });

  it('is exact under concurrency from two stores on separate connections (two gateways)', async () => {
    const access = {
      rateLimit: {
        limits: [
          { limit: 50, windowSeconds: 60, algorithm: 'sliding' },
          { limit: 70, windowSeconds: 60 },
        ],
      },
    };
    const id = randomBytes(4).toString('hex');
    const a = gateway({ id, access });
    const b = gateway({ id, access, store: new RedisRateLimitStore(other, prefix) });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a() : b())));
    expect(results.filter((r) => r.outcome === undefined)).toHaveLength(50);
  });

  it('fails open or closed when Redis is unreachable, and reports it', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => {});
    const errors: unknown[] = [];
    const store = new RedisRateLimitStore(dead, prefix);
    const open = gateway({ store, access: { rateLimit: { limits: [{ limit: 1, windowSeconds: 1 }] } }, onError: (e) => errors.push(e) });
    expect((await open()).outcome).toBeUndefined();
    const closed = gateway({ store, access: { rateLimit: { limits: [{ limit: 1, windowSeconds: 1 }], onStoreUnavailable: 'deny' } }, onError: (e) => errors.push(e) });
    expect((await closed()).outcome).toMatchObject({ status: 503, code: 'rate_limit_unavailable' });
    expect(errors).toHaveLength(2);
    dead.disconnect();
  });

  describe('leases (fixed windows and quotas)', () => {
    it('admits from a block granted in advance: one script call per 100 requests under a high limit', async () => {
      const { store, calls } = await countingStore();
      const id = randomBytes(4).toString('hex');
      const now = windowStart(60);
      const call = gateway({ id, store, access: { rateLimit: { limits: [{ limit: 100_000, windowSeconds: 60 }] } }, now: () => now });
      const first = await call();
      expect(first.sync).toBe(false);
      // Redis has 100000 - 100 left, this Gateway 99 of its block.
      expect(first.ctx.responseHeaders?.['ratelimit-remaining']).toBe('99999');
      let sync = 0;
      for (let i = 1; i < 1000; i++) {
        const r = await call();
        expect(r.outcome).toBeUndefined();
        if (r.sync) sync++;
      }
      expect(calls()).toBe(10);
      expect(sync).toBe(990);
      expect(await redis.get(`${prefix}c:c-${id}::l0:f60:${now}`)).toBe('1000');
    });

    it('two Gateways share a fixed limit of N = 2000 under concurrent demand of 3N: between 0.99 N and N admitted', async () => {
      const N = 2000;
      const access = { rateLimit: { limits: [{ limit: N, windowSeconds: 60 }] } };
      const id = randomBytes(4).toString('hex');
      const now = windowStart(60);
      const [ga, gb] = [await countingStore(), await countingStore()];
      const a = gateway({ id, access, store: ga.store, now: () => now });
      const b = gateway({ id, access, store: gb.store, now: () => now });
      let next = 0;
      const outcomes: PolicyOutcome[] = [];
      const worker = async () => {
        while (next < 3 * N) {
          const i = next++;
          outcomes.push((await (i % 2 ? a() : b())).outcome);
        }
      };
      await Promise.all(Array.from({ length: 40 }, worker));
      const admitted = outcomes.filter((o) => o === undefined).length;
      expect(admitted).toBeLessThanOrEqual(N);
      expect(admitted).toBeGreaterThanOrEqual(0.99 * N);
      expect(outcomes.filter((o) => o !== undefined && o.code !== 'rate_limited')).toEqual([]);
      // One EVALSHA per request would be 6000.
      expect(ga.calls() + gb.calls()).toBeLessThan(N / 4);
    });

    it('a quota per hour behaves the same, also when a whole burst is sent before the first grant is back', async () => {
      const N = 2000;
      const access = { rateLimit: { quotas: [{ limit: N, period: 'hour' }] } };
      const id = randomBytes(4).toString('hex');
      const now = windowStart(3600);
      const a = gateway({ id, access, store: new RedisRateLimitStore(await connection(), prefix), now: () => now });
      const b = gateway({ id, access, store: new RedisRateLimitStore(await connection(), prefix), now: () => now });
      // Refused by Redis, a request is admitted from the blocks the same burst brought in.
      const results = await Promise.all(Array.from({ length: 3 * N }, (_, i) => (i % 2 ? a() : b())));
      const admitted = results.filter((r) => r.outcome === undefined).length;
      expect(admitted).toBeLessThanOrEqual(N);
      expect(admitted).toBeGreaterThanOrEqual(0.99 * N);
      const refused = results.find((r) => r.outcome !== undefined)!.outcome!;
      expect(refused).toMatchObject({ status: 429, code: 'quota_exceeded', headers: { 'retry-after': '3600', 'ratelimit-remaining': '0' } });
    });

    it('a used-up counter answers 429 without a round trip until its window ends; a new limit is asked of Redis again', async () => {
      const { store, calls } = await countingStore();
      const id = randomBytes(4).toString('hex');
      const now = windowStart(60) + 15_000;
      const access = { rateLimit: { limits: [{ limit: 3, windowSeconds: 60 }] } };
      const call = gateway({ id, store, access, now: () => now });
      const otherGateway = gateway({ id, access, store: new RedisRateLimitStore(await connection(), prefix), now: () => now });
      expect((await call()).outcome).toBeUndefined();
      // Blocks of 1 this close to the limit: the other Gateway takes what is left.
      expect((await otherGateway()).outcome).toBeUndefined();
      expect((await otherGateway()).outcome).toBeUndefined();
      expect((await call()).outcome).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(calls()).toBe(2);
      for (let i = 0; i < 5; i++) {
        const r = await call();
        expect(r.sync).toBe(true);
        expect(r.outcome).toMatchObject({ status: 429, code: 'rate_limited', headers: { 'retry-after': '45', 'ratelimit-reset': '45', 'ratelimit-remaining': '0' } });
      }
      expect(calls()).toBe(2);
      // A new revision raises the limit: what was recorded under 3 no longer counts.
      const raised = gateway({ id, store, access: { rateLimit: { limits: [{ limit: 5, windowSeconds: 60 }] } }, now: () => now });
      const r = await raised();
      expect(r.outcome).toBeUndefined();
      expect(r.ctx.responseHeaders?.['ratelimit-remaining']).toBe('1');
      expect(calls()).toBe(3);
    });

    it('sliding windows stay exact: Redis is asked for every request, also for the fixed counters next to them', async () => {
      const { store, calls } = await countingStore();
      const call = gateway({
        store,
        access: {
          rateLimit: {
            limits: [
              { limit: 100, windowSeconds: 60, algorithm: 'sliding' },
              { limit: 1000, windowSeconds: 60 },
            ],
          },
        },
      });
      for (let i = 0; i < 20; i++) expect((await call()).sync).toBe(false);
      expect(calls()).toBe(20);
    });

    it('a lease outlives a Redis outage; only requests that need Redis fail closed (or open)', async () => {
      const link = await cuttableLink(redisUrl);
      const { store, calls } = await countingStore(link.url);
      const errors: unknown[] = [];
      const now = windowStart(60);
      const limits = [{ limit: 1000, windowSeconds: 60 }];
      const closed = gateway({ store, access: { rateLimit: { limits, onStoreUnavailable: 'deny' } }, now: () => now, onError: (e) => errors.push(e) });
      const open = gateway({ store, access: { rateLimit: { limits, onStoreUnavailable: 'allow' } }, now: () => now, onError: (e) => errors.push(e) });
      expect((await closed()).outcome).toBeUndefined();
      await link.cut();
      const block = Math.floor(1000 / 16); // what the first request was granted; it took one
      for (let i = 1; i < block; i++) expect(await closed()).toMatchObject({ outcome: undefined, sync: true });
      expect(errors).toEqual([]);
      expect((await closed()).outcome).toMatchObject({ status: 503, code: 'rate_limit_unavailable' });
      expect((await open()).outcome).toBeUndefined(); // no lease yet: needs Redis, fails open
      expect(errors).toHaveLength(2);
      expect(calls()).toBe(3);
    });
  });
});

/** A TCP hop to the real Redis that a test can cut: Redis goes away for this link only. */
async function cuttableLink(redisUrl: string): Promise<{ url: string; cut(): Promise<void> }> {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((closed) => server.close(() => closed()));
    },
  };
}
