import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RevokedJwtIds } from './revoked-jwt-ids';
import { TokenStoreUnavailable } from './token-store-unavailable';
import { eventually } from '@idm/test-kit';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Two "Gateways" (each its own command and subscriber connection) on the real Redis. */
describe('RevokedJwtIds on a real Redis', () => {
  const key = `test:jwt-revoked:${randomBytes(6).toString('hex')}`;
  const connections: Redis[] = [];
  const lists: RevokedJwtIds[] = [];
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  const gateway = async (): Promise<RevokedJwtIds> => {
    const redis = new Redis(REDIS_URL);
    const subscriber = new Redis(REDIS_URL);
    connections.push(redis, subscriber);
    const list = new RevokedJwtIds(redis, subscriber, { key });
    lists.push(list);
    list.start();
    await eventually(() => list.loaded, Boolean, { what: 'first load', intervalMs: 10 });
    return list;
  };

  afterAll(async () => {
    for (const list of lists) list.stop();
    const cleanup = new Redis(REDIS_URL);
    await cleanup.del(key);
    cleanup.disconnect();
    for (const c of connections) c.disconnect();
  });

  it('shares a revocation with every subscribed Gateway and with one started later', async () => {
    const [a, b] = [await gateway(), await gateway()];
    await a.revoke('jti-1', nowSeconds() + 60);
    expect(a.has('jti-1')).toBe(true);
    await eventually(() => b.has('jti-1'), Boolean, { what: 'message on the other gateway', intervalMs: 10 });
    expect(b.has('jti-2')).toBe(false);
    const late = await gateway();
    expect(late.has('jti-1')).toBe(true);
  });

  it('keeps an entry until exp plus the skew allowance, and lets Redis expire the set with its last entry', async () => {
    const redis = connections[0];
    const exp = nowSeconds() + 120;
    await lists[0].revoke('jti-ttl', exp);
    expect(Number(await redis.zscore(key, 'jti-ttl'))).toBe(exp + 300);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(400);
    expect(ttl).toBeLessThanOrEqual(420);
    // An earlier exp for the same id never shortens the entry.
    await lists[0].revoke('jti-ttl', exp - 100);
    expect(Number(await redis.zscore(key, 'jti-ttl'))).toBe(exp + 300);
  });

  it('does not load ids whose tokens expired, and prunes them from the set on the next revocation', async () => {
    const redis = connections[0];
    await redis.zadd(key, nowSeconds() - 10, 'long-gone');
    const fresh = await gateway();
    expect(fresh.has('long-gone')).toBe(false);
    await fresh.revoke('jti-3', nowSeconds() + 60);
    expect(await redis.zscore(key, 'long-gone')).toBeNull();
  });

  it('ignores malformed messages on the channel', async () => {
    const [a] = lists;
    const publisher = connections[0];
    for (const message of ['no-space', ' 123', 'x notanumber', `${'y'.repeat(200)} ${nowSeconds() + 60}`]) await publisher.publish(`${key}:events`, message);
    await a.revoke('after-garbage', nowSeconds() + 60);
    await eventually(() => lists[1].has('after-garbage'), Boolean, { what: 'the valid message after the garbage', intervalMs: 10 });
    expect(lists[1].has('no-space')).toBe(false);
    expect(lists[1].has('x')).toBe(false);
  });

  it('refuses a message without its keep-until seconds (read as 0 before it was parsed by schema)', async () => {
    const publisher = connections[0];
    for (const message of ['no-seconds ', 'float-seconds 1.5e9', 'negative-seconds -1']) await publisher.publish(`${key}:events`, message);
    await lists[0].revoke('after-incomplete', nowSeconds() + 60);
    await eventually(() => lists[1].has('after-incomplete'), Boolean, { what: 'the valid message after the incomplete ones', intervalMs: 10 });
    for (const jti of ['no-seconds', 'float-seconds', 'negative-seconds']) expect(lists[1].has(jti)).toBe(false);
  });

  it('reloads after its subscriber reconnects, catching what was revoked while it was away', async () => {
    const [a, b] = lists;
    const subscriberOfB = connections[3];
    const reloaded = new Promise((r) => subscriberOfB.once('ready', r));
    subscriberOfB.disconnect(true); // drop the connection; ioredis reconnects
    await a.revoke('while-away', nowSeconds() + 60);
    await reloaded;
    await eventually(() => b.has('while-away'), Boolean, { what: 'reload after reconnect', intervalMs: 10 });
  });

  it('reports an unreachable Redis as TokenStoreUnavailable, after refusing the id locally', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const list = new RevokedJwtIds(dead, dead, { key });
    await expect(list.revoke('offline', nowSeconds() + 60)).rejects.toBeInstanceOf(TokenStoreUnavailable);
    expect(list.has('offline')).toBe(true);
    dead.disconnect();
  });
});
