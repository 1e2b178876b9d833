import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { gatewayPresenceKeys, GatewayPresenceStore, type GatewayPresence } from './gateway-presence';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('GatewayPresenceStore on a real Redis', () => {
  const environment = `gw-presence-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  const store = new GatewayPresenceStore(redis, environment);
  const keys = gatewayPresenceKeys(environment);
  const report = (id: string, extra: Partial<GatewayPresence> = {}): GatewayPresence => ({
    id,
    environment,
    version: '0.1.0',
    epoch: 'e1',
    revision: 7,
    appliedAt: Date.now(),
    ready: true,
    requestsPerSecond: 0,
    startedAt: Date.now() - 1_000,
    reportedAt: Date.now(),
    ...extra,
  });

  afterAll(async () => {
    const left = await redis.keys(`{idm:gw:${environment}}:*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
  });

  it('lists the Gateways that reported, newest report first, and drops one whose report expired', async () => {
    const a = report('gw-a', { reportedAt: Date.now() - 10 });
    const b = report('gw-b', { revision: 6 });
    await store.report(a, 60_000);
    await store.report(b, 300);
    expect(await store.list()).toEqual([b, a]);
    // Nothing removes gw-b: its report expires on its own.
    const deadline = Date.now() + 10_000;
    while ((await store.list()).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await store.list()).toEqual([a]);
  });

  it('removes a Gateway that withdraws at once, and keeps the others', async () => {
    await store.report(report('gw-c'), 60_000);
    await store.withdraw('gw-c');
    expect((await store.list()).map((g) => g.id)).toEqual(['gw-a']);
    expect(await redis.zscore(keys.seen, 'gw-c')).toBeNull();
  });

  it('skips a report that is not what a Gateway writes, and prunes index entries an hour old', async () => {
    await redis.zadd(keys.seen, Date.now(), 'forged');
    await redis.set(keys.report('forged'), '{"id":"forged","ready":"yes"}');
    await redis.zadd(keys.seen, Date.now(), 'not-json');
    await redis.set(keys.report('not-json'), '{');
    await redis.zadd(keys.seen, Date.now() - 2 * 3_600_000, 'long-gone');
    expect((await store.list()).map((g) => g.id)).toEqual(['gw-a']);
    await store.report(report('gw-a'), 60_000);
    expect(await redis.zscore(keys.seen, 'long-gone')).toBeNull();
    expect(await redis.pttl(keys.seen)).toBeGreaterThan(0);
  });
});
