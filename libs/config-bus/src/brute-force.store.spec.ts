import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { blockIdOf, blockKey, bruteForceKeys } from './brute-force-block';
import { BruteForceStore, type BruteForceSettings, type FailedAttempt } from './brute-force.store';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('BruteForceStore on a real Redis', () => {
  const environment = `bf-store-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  const store = new BruteForceStore(redis, environment);
  const settings: BruteForceSettings = {
    perCredential: 5,
    perAddress: 8,
    perCredentialAddress: 3,
    windowSeconds: 60,
    lockoutSeconds: 10,
    maxLockoutSeconds: 25,
    strikeMemorySeconds: 60,
  };
  const T0 = 1_800_000_000_000;
  const alice = (address: string): FailedAttempt => ({ credential: { key: 'p1:alice', label: 'alice', projectId: 'p1' }, address, source: 'proxy' });

  afterAll(async () => {
    const keys = await redis.keys(`{idm:bf:${environment}}:*`);
    if (keys.length) await redis.del(...keys);
    expect(await redis.keys(`*${environment}*`)).toEqual([]);
    redis.disconnect();
  });

  it('blocks a credential at one address after its threshold, exactly once however many failures race, and publishes the block', async () => {
    const sub = new Redis(REDIS_URL);
    const messages: string[] = [];
    sub.on('message', (_c, m) => messages.push(m));
    await sub.subscribe(bruteForceKeys(environment).events);
    const results = await Promise.all(Array.from({ length: 3 }, () => store.recordFailure(alice('10.0.0.1'), settings, T0)));
    const blocks = results.flat();
    expect(blocks).toEqual([
      expect.objectContaining({
        detector: 'credential-address',
        credential: 'alice',
        projectId: 'p1',
        address: '10.0.0.1',
        failures: 3,
        strike: 1,
        blockedAt: T0,
        until: T0 + 10_000,
      }),
    ]);
    expect(blocks[0].id).toBe(blockIdOf(blockKey('credential-address', 'p1:alice\u000010.0.0.1')));
    await new Promise((r) => setTimeout(r, 100));
    sub.disconnect();
    expect(messages.map((m) => JSON.parse(m))).toEqual([{ block: blocks[0] }]);
    expect(await store.list(T0)).toEqual(blocks);
  });

  it('counts the credential across addresses and the address across credentials', async () => {
    // alice has 3 failures already (above); two more from other addresses reach 5 per credential.
    expect(await store.recordFailure(alice('10.0.0.2'), settings, T0)).toEqual([]);
    expect(await store.recordFailure(alice('10.0.0.3'), settings, T0)).toEqual([expect.objectContaining({ detector: 'credential', address: null, failures: 5 })]);
    const others: FailedAttempt[] = Array.from({ length: 8 }, (_, i) => ({
      credential: i % 2 ? null : { key: `p1:u${i}`, label: `u${i}`, projectId: 'p1' },
      address: '10.9.9.9',
      source: 'proxy',
    }));
    const created = [];
    for (const attempt of others) created.push(...(await store.recordFailure(attempt, settings, T0)));
    expect(created).toEqual([expect.objectContaining({ detector: 'address', credential: null, projectId: null, address: '10.9.9.9', failures: 8 })]);
  });

  it('doubles the lockout of a repeat, up to the maximum, and forgets ended blocks', async () => {
    const bob = (): FailedAttempt => ({ credential: { key: 'p1:bob', label: 'bob', projectId: 'p1' }, address: '10.1.1.1', source: 'proxy' });
    const lockouts: number[] = [];
    let now = T0;
    for (let strike = 1; strike <= 3; strike++) {
      let made: Awaited<ReturnType<BruteForceStore['recordFailure']>> = [];
      for (let i = 0; i < 3; i++) made = await store.recordFailure(bob(), settings, now);
      const block = made.find((b) => b.detector === 'credential-address')!;
      expect(block.strike).toBe(strike);
      lockouts.push(block.until - block.blockedAt);
      now = block.until + 1;
    }
    expect(lockouts).toEqual([10_000, 20_000, 25_000]);
    expect((await store.list(now)).some((b) => b.credential === 'bob')).toBe(false);
  });

  it('lifts a block: gone from the list, published, and its subject forgiven (count and strikes)', async () => {
    const carol = (): FailedAttempt => ({ credential: { key: 'p2:carol', label: 'carol', projectId: 'p2' }, address: '10.2.2.2', source: 'proxy' });
    for (let i = 0; i < 2; i++) await store.recordFailure(carol(), settings, T0);
    const [block] = await store.recordFailure(carol(), settings, T0);
    expect(block.strike).toBe(1);
    const sub = new Redis(REDIS_URL);
    const messages: string[] = [];
    sub.on('message', (_c, m) => messages.push(m));
    await sub.subscribe(store.channel);
    expect(await store.lift(block.id)).toEqual(block);
    expect(await store.lift(block.id)).toBeNull();
    await new Promise((r) => setTimeout(r, 100));
    sub.disconnect();
    expect(messages.map((m) => JSON.parse(m))).toEqual([{ lift: { id: block.id, key: block.key } }]);
    expect((await store.list(T0)).map((b) => b.id)).not.toContain(block.id);
    // Forgiven: the next block is a first strike again, after a full count.
    await store.recordFailure(carol(), settings, T0);
    await store.recordFailure(carol(), settings, T0);
    const [again] = await store.recordFailure(carol(), settings, T0);
    expect(again).toMatchObject({ id: block.id, strike: 1, until: T0 + 10_000 });
  });

  it('keeps every key of an environment behind one hash tag (one Cluster slot, as the scripts need)', async () => {
    const keys = await redis.keys(`*${environment}*`);
    expect(keys.length).toBeGreaterThan(3);
    for (const key of keys) expect(key.startsWith(`{idm:bf:${environment}}:`)).toBe(true);
  });

  it('counts nothing with every detector off', async () => {
    const off = { ...settings, perCredential: 0, perAddress: 0, perCredentialAddress: 0 };
    expect(await store.recordFailure(alice('10.3.3.3'), off, T0)).toEqual([]);
    expect(await redis.keys(`{idm:bf:${environment}}:n:${blockIdOf(blockKey('address', '10.3.3.3'))}`)).toEqual([]);
  });
});
