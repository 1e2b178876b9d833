import type { ConfigSnapshot } from '@idm/config-bus';
import { generateApiKey } from '@idm/domain';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext, type PolicyOutcome } from '../policy';
import { RedisRateLimitStore } from './redis-rate-limit.store';

/** Real Redis (127.0.0.1:6379), a unique key prefix per run, deleted afterwards. */
describe('rate limits (real Redis)', () => {
  const prefix = `idm-test:rl:${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  let other: Redis;
  const key = generateApiKey();
  const key2 = generateApiKey();

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
    other = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await other.quit();
  });

  function gateway(options: { id?: string; policies?: unknown[]; access?: Record<string, unknown>; store?: RedisRateLimitStore; now?: () => number; onError?: (e: unknown) => void }) {
    const id = options.id ?? randomBytes(4).toString('hex');
    const snapshot = {
      schemaVersion: 1, environment: 't', revision: 1, generatedAt: new Date().toISOString(),
      proxies: [{ id: `p-${id}`, projectId: 'p', name: 'x', basePath: '/x', upstreamUrl: 'http://127.0.0.1:1', methods: ['GET'], policies: options.policies ?? [{ type: 'api-key', config: {} }] }],
      credentials: [
        { id: `c-${id}`, projectId: 'p', username: 'a', passwordHash: null, enabled: true, expiresAt: null, roles: [], metadata: [], access: options.access ?? {}, tokenSettings: null, apiKeys: [{ id: 'k', prefix: key.prefix, hash: key.hash, expiresAt: null }] },
        { id: `d-${id}`, projectId: 'p', username: 'b', passwordHash: null, enabled: true, expiresAt: null, roles: [], metadata: [], access: options.access ?? {}, tokenSettings: null, apiKeys: [{ id: 'k2', prefix: key2.prefix, hash: key2.hash, expiresAt: null }] },
      ],
      signingKeys: [],
    } as unknown as ConfigSnapshot;
    const proxy = compileEnvironment(snapshot, { rateLimitStore: options.store ?? new RedisRateLimitStore(redis, prefix), now: options.now, onRateLimitStoreError: options.onError }).route('/x')!;
    return async (apiKey = key.key, clientIp = '10.0.0.1') => {
      const ctx = createRequestContext({ method: 'GET', path: '/x', headers: { 'x-api-key': apiKey }, query: '', clientIp });
      return { outcome: (await proxy.runPolicies(ctx)) as PolicyOutcome, ctx };
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
      status: 429, code: 'rate_limited', message: expect.any(String),
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
    const byProxy = gateway({ policies: [{ type: 'api-key', config: {} }, { type: 'rate-limit', config: { keyBy: 'proxy', limits: [{ limit: 1, windowSeconds: 60 }] } }] });
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
    const access = { rateLimit: { limits: [{ limit: 50, windowSeconds: 60, algorithm: 'sliding' }, { limit: 70, windowSeconds: 60 }] } };
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
});
