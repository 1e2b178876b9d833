import { eventually } from '@idm/test-kit';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { KeyVersion } from '../jose-keys/key-versions';
import { RedisOidcSessionStore } from './redis-session-store';
import { CookieSealer } from './sealed-cookie';
import { OidcSessions } from './sessions';

/**
 * The session read cache of the `oidc` policy: two "Gateways" (each a store with its own Redis
 * connection and invalidation subscriber) on the real Redis. A copy is served from memory only
 * while nothing ended or changed the session anywhere: a logout, a dropped or expired session and
 * a rewrite on either Gateway reach the other at once (the TTLs here are a minute: only the
 * invalidation can explain what the other sees), and the TTL bounds what a lost message could
 * leave behind.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MINUTE = 60_000;
const key: KeyVersion = { kid: 'k1', retiresAt: Infinity, x5tS256: null, x5t: null, certificates: [], publicKey: null, privateKey: new Uint8Array(32).fill(9) };

describe('oidc session store: the read cache and its invalidation across Gateways', () => {
  const prefix = `test:oidc-cache:${randomUUID().slice(0, 8)}:`;
  const connections: Redis[] = [];
  const stores: RedisOidcSessionStore[] = [];
  let raw: Redis;

  const connect = () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    connections.push(c);
    return c;
  };
  /** A Gateway's store: its own connection and subscriber; `ttlMs` a minute unless said. */
  const gateway = async (ttlMs = MINUTE, maxEntries?: number) => {
    const subscriber = connect();
    const store = new RedisOidcSessionStore(connect(), prefix, { subscriber, ttlMs, maxEntries });
    stores.push(store);
    await eventually(
      async () => store.listening,
      (up) => up,
      { what: 'the invalidation channel subscribed', timeoutMs: 10_000, intervalMs: 10 },
    );
    return { store, subscriber };
  };
  /** A change made behind the stores' backs (no invalidation): only what is held in memory still shows the old value. */
  const behindTheirBacks = (k: string, value: string | null) => (value === null ? raw.del(prefix + k) : raw.set(prefix + k, value, 'PX', MINUTE));

  beforeAll(() => {
    raw = connect();
  });

  afterAll(async () => {
    for (const s of stores) s.close();
    for await (const keys of raw.scanStream({ match: `${prefix}*`, count: 1000 })) if ((keys as string[]).length > 0) await raw.del(...(keys as string[]));
    for (const c of connections) c.disconnect();
  });

  it('serves a session read from Redis from memory until its TTL, no longer', async () => {
    const { store } = await gateway(300);
    await store.create('s1', 'v1', MINUTE);
    expect(await store.get('s1')).toBe('v1');
    await behindTheirBacks('s1', 'v2');
    expect(await store.get('s1')).toBe('v1');
    expect(await store.get('s1', true)).toBe('v2'); // a fresh read always asks Redis
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await store.get('s1')).toBe('v2');
    await behindTheirBacks('s1', null);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await store.get('s1')).toBeNull();
  });

  it('ends a session on every Gateway when one logs it out, and replaces every copy when one rewrites it', async () => {
    const [one, two] = [await gateway(), await gateway()];
    await one.store.create('s2', 'record-1', MINUTE);
    expect([await one.store.get('s2'), await two.store.get('s2')]).toEqual(['record-1', 'record-1']);
    // Rewritten through one (refreshed tokens, last-seen): two's copy goes, two reads the new record.
    expect(await one.store.update('s2', 'record-2', MINUTE)).toBe(true);
    await eventually(
      () => two.store.get('s2'),
      (v) => v === 'record-2',
      { what: "two sees one's rewrite", timeoutMs: 2_000, intervalMs: 5 },
    );
    // Logged out through two: gone from one's memory as well.
    expect(await one.store.get('s2')).toBe('record-2');
    expect(await two.store.take('s2')).toBe('record-2');
    expect(await two.store.get('s2')).toBeNull();
    await eventually(
      () => one.store.get('s2'),
      (v) => v === null,
      { what: "one honours two's logout", timeoutMs: 2_000, intervalMs: 5 },
    );
    // And stays gone: nothing re-read it into memory meanwhile.
    await behindTheirBacks('s2', 'resurrected?');
    expect(await one.store.get('s2')).toBe('resurrected?');
  });

  it('serves nothing from memory while its subscription is down, and caches again once it is back', async () => {
    const { store, subscriber } = await gateway();
    await store.create('s3', 'v1', MINUTE);
    expect(await store.get('s3')).toBe('v1');
    subscriber.disconnect(); // messages would be missed from here on
    await eventually(
      async () => store.listening,
      (up) => !up,
      { what: 'the subscription seen down', timeoutMs: 5_000, intervalMs: 5 },
    );
    await behindTheirBacks('s3', null);
    expect(await store.get('s3')).toBeNull();
    await behindTheirBacks('s3', 'v2');
    expect(await store.get('s3')).toBe('v2');
    await behindTheirBacks('s3', 'v3');
    expect(await store.get('s3')).toBe('v3'); // not kept while down
    await subscriber.connect();
    await eventually(
      async () => store.listening,
      (up) => up,
      { what: 'the subscription back', timeoutMs: 10_000, intervalMs: 10 },
    );
    expect(await store.get('s3')).toBe('v3');
    await behindTheirBacks('s3', 'v4');
    expect(await store.get('s3')).toBe('v3');
  });

  it('holds at most maxEntries sessions (the oldest go first)', async () => {
    const { store } = await gateway(MINUTE, 2);
    for (const k of ['a', 'b', 'c']) {
      await store.create(`m-${k}`, `${k}1`, MINUTE);
      await store.get(`m-${k}`);
      await behindTheirBacks(`m-${k}`, `${k}2`);
    }
    expect([await store.get('m-c'), await store.get('m-b'), await store.get('m-a')]).toEqual(['c1', 'b1', 'a2']);
  });

  describe('sessions over cached stores', () => {
    let now = 2_000_000_000_000;
    const clock = () => now;
    /** Idle 30 minutes (last-seen written every minute), absolute 2 hours; the cache keeps real time. */
    const sessionsOn = (store: RedisOidcSessionStore, proxy: string) =>
      new OidcSessions(store, new CookieSealer([key], proxy, clock), proxy, 'OIDC_SESSION', 30 * MINUTE, 120 * MINUTE, clock);

    it('ends a session past its absolute end or idle timeout although a copy is in memory, on every Gateway', async () => {
      const [one, two] = [await gateway(), await gateway()];
      const [a, b] = [sessionsOn(one.store, 'proxy-t'), sessionsOn(two.store, 'proxy-t')];
      const lifetime = await a.start({ sub: 'alice' }, {});
      const idle = await a.start({ sub: 'bob' }, {});
      expect(typeof (await b.resume(lifetime))).toBe('object');
      expect(typeof (await b.resume(idle))).toBe('object');
      now += 20 * MINUTE;
      expect(typeof (await a.resume(lifetime))).toBe('object');
      now += 11 * MINUTE;
      expect(await b.resume(idle)).toBe('ended');
      expect(await raw.keys(`${prefix}proxy-t:*`)).toHaveLength(1); // the idle one deleted, the other kept
      expect(await a.resume(idle)).toBe('ended');
      expect(typeof (await a.resume(lifetime))).toBe('object');
      for (let i = 0; i < 4; i++) {
        now += 20 * MINUTE;
        expect(typeof (await a.resume(lifetime))).toBe('object');
      }
      expect(typeof (await b.resume(lifetime))).toBe('object'); // 111 minutes: a copy in memory again
      now += 10 * MINUTE; // past the absolute end (2 hours)
      expect(await b.resume(lifetime)).toBe('ended');
      expect(await a.resume(lifetime)).toBe('ended');
    });

    it('does not end a session on a stale copy: another Gateway kept it alive, and the store is asked before ending it', async () => {
      const { store } = await gateway();
      // The other Gateway writes last-seen without telling anyone (a store without the cache publishes nothing): a lost message.
      const silent = new RedisOidcSessionStore(connect(), prefix);
      const [here, elsewhere] = [sessionsOn(store, 'proxy-s'), sessionsOn(silent, 'proxy-s')];
      const cookie = await here.start({ sub: 'carol' }, {});
      expect(typeof (await here.resume(cookie))).toBe('object'); // a copy in memory, last-seen = start
      now += 2 * MINUTE;
      expect(typeof (await elsewhere.resume(cookie))).toBe('object'); // last-seen written in Redis only
      now += 29 * MINUTE; // idle by the copy (31 min), not by the store (29 min)
      const resumed = await here.resume(cookie);
      expect(typeof resumed === 'object' && resumed.record.c).toEqual({ sub: 'carol' });
      expect(await raw.keys(`${prefix}proxy-s:*`)).toHaveLength(1);
    });
  });
});
