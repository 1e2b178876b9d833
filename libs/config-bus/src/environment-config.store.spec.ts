import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { ConfigChangedMessage } from './config-changed.message';
import { environmentConfigKeys } from './environment-config.keys';
import { entityDigest, EnvironmentConfigStore, MAX_ENTITIES_PER_CHANGE } from './environment-config.store';
import { newPublicationEpoch } from './publication-epoch';
import type { SnapshotCredential, SnapshotProxy } from './snapshot.schema';

const proxy = (id: string, basePath = `/${id}`): SnapshotProxy => ({
  id,
  projectId: 'p1',
  name: id,
  basePath,
  upstreamUrl: 'http://127.0.0.1:1',
  methods: ['GET'],
  policies: [],
  deployedAt: null,
});
const credential = (id: string, enabled = true): SnapshotCredential => ({
  id,
  projectId: 'p1',
  username: id,
  passwordHash: null,
  enabled,
  expiresAt: null,
  apiKeys: [],
  roles: [],
  metadata: [],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
});

async function* chunks(proxies: SnapshotProxy[], credentials: SnapshotCredential[]) {
  yield { proxies };
  for (let i = 0; i < credentials.length; i += 700) yield { credentials: credentials.slice(i, i + 700) };
}

describe('EnvironmentConfigStore on a real Redis', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const store = new EnvironmentConfigStore(redis, 5);
  const environment = `store-${randomBytes(4).toString('hex')}`;
  const epoch = newPublicationEpoch();
  const change = (revision: number, previousRevision: number, c: Partial<ConfigChangedMessage> = {}): ConfigChangedMessage => ({
    environment,
    epoch,
    revision,
    previousRevision,
    proxies: { upserted: [], removed: [] },
    credentials: { upserted: [], removed: [] },
    ...c,
  });

  afterAll(async () => {
    await store.remove(environment);
    expect(await redis.keys(`idm:config:{${environment}}*`)).toEqual([]);
    redis.disconnect();
  });

  it('replaces everything from chunks and loads it back; an older (epoch, revision) is refused and leaves no staging keys', async () => {
    const credentials = Array.from({ length: 2500 }, (_, i) => credential(`c${i}`));
    expect(await store.replace(environment, { epoch, revision: 10, signingKeys: [], chunks: chunks([proxy('a'), proxy('b')], credentials) })).toBe(true);
    expect(await store.replace(environment, { epoch, revision: 10, signingKeys: [], chunks: chunks([], []) })).toBe(false);
    expect(await store.replace(environment, { epoch: '0000000001.000000000000', revision: 99, signingKeys: [], chunks: chunks([], []) })).toBe(false);
    const loaded = await store.load(environment);
    expect(loaded).toMatchObject({ environment, epoch, revision: 10 });
    expect(loaded!.proxies.map((p) => p.id).sort()).toEqual(['a', 'b']);
    expect(loaded!.credentials).toHaveLength(2500);
    expect(await redis.keys(`idm:config:{${environment}}:staging*`)).toEqual([]);
  });

  it('applies a change only on top of the revision it was computed against, and logs it for replay', async () => {
    const disabled = credential('c7', false);
    expect(await store.apply(change(11, 10, { credentials: { upserted: [disabled], removed: ['c8'] } }))).toBe(true);
    // Computed against 10 again (a stale read): refused, nothing written.
    expect(await store.apply(change(12, 10, { proxies: { upserted: [proxy('x')], removed: [] } }))).toBe(false);
    expect(await store.apply(change(12, 11, { proxies: { upserted: [proxy('c')], removed: ['a'] } }))).toBe(true);
    const replay = await store.changesSince(environment, epoch, 10);
    expect(replay!.map((c) => [c.previousRevision, c.revision])).toEqual([
      [10, 11],
      [11, 12],
    ]);
    expect(replay![0].credentials).toEqual({ upserted: [disabled], removed: ['c8'] });
    expect(replay![1].proxies).toEqual({ upserted: [proxy('c')], removed: ['a'] });
    expect(await store.changesSince(environment, epoch, 12)).toEqual([]);
    const loaded = await store.load(environment);
    expect(loaded!.revision).toBe(12);
    expect(loaded!.proxies.map((p) => p.id).sort()).toEqual(['b', 'c']);
    expect(loaded!.credentials).toHaveLength(2499);
    expect(loaded!.credentials.find((c) => c.id === 'c7')!.enabled).toBe(false);
  });

  it('says a log that no longer reaches back, or another epoch, means a full load', async () => {
    for (let r = 13; r < 40; r++) await store.apply(change(r, r - 1, { credentials: { upserted: [credential(`n${r}`)], removed: [] } }));
    expect(await store.changesSince(environment, epoch, 10)).toBeNull(); // trimmed (log length 5)
    expect(await store.changesSince(environment, newPublicationEpoch(epoch), 39)).toBeNull();
    expect((await store.changesSince(environment, epoch, 37))!.map((c) => c.revision)).toEqual([38, 39]);
  });

  it('a full replacement restarts the log: a Gateway on the old line must reload', async () => {
    const next = newPublicationEpoch(epoch);
    expect(await store.replace(environment, { epoch: next, revision: 1, signingKeys: [], chunks: chunks([proxy('z')], []) })).toBe(true);
    expect(await store.changesSince(environment, epoch, 39)).toBeNull();
    expect(await store.changesSince(environment, next, 0)).toBeNull();
    expect(await store.changesSince(environment, next, 1)).toEqual([]);
    expect((await store.load(environment))!.credentials).toEqual([]);
  });

  it('replays a log longer than one read (it is read a few entries per round trip) whole and in order', async () => {
    const long = new EnvironmentConfigStore(redis, 100);
    const other = `${environment}-long`;
    try {
      expect(await long.replace(other, { epoch, revision: 1, signingKeys: [], chunks: chunks([proxy('a')], [credential('c1')]) })).toBe(true);
      for (let r = 2; r <= 30; r++)
        expect(await long.apply({ ...change(r, r - 1, { credentials: { upserted: [credential(`c${r}`)], removed: [`c${r - 1}`] } }), environment: other })).toBe(true);
      const replay = (await long.changesSince(other, epoch, 1))!;
      expect(replay.map((c) => [c.previousRevision, c.revision])).toEqual(Array.from({ length: 29 }, (_, i) => [i + 1, i + 2]));
      expect(replay.map((c) => c.credentials.upserted[0].id)).toEqual(Array.from({ length: 29 }, (_, i) => `c${i + 2}`));
      expect((await long.changesSince(other, epoch, 13))!.map((c) => c.revision)).toEqual(Array.from({ length: 17 }, (_, i) => i + 14));
      expect(await long.changesSince(other, epoch, 30)).toEqual([]);
      const loaded = (await long.load(other))!;
      expect([loaded.revision, loaded.credentials.map((c) => c.id)]).toEqual([30, ['c30']]);
    } finally {
      await long.remove(other);
    }
  });

  it('refuses a change larger than one Lua call may carry', async () => {
    const many = Array.from({ length: MAX_ENTITIES_PER_CHANGE + 1 }, (_, i) => `r${i}`);
    await expect(store.apply(change(2, 1, { credentials: { upserted: [], removed: many } }))).rejects.toThrow(RangeError);
  });

  it('loadInto hands every credential to the sink one at a time, and replays on it what was logged meanwhile', async () => {
    const other = `${environment}-into`;
    const otherStore = new EnvironmentConfigStore(redis, 5);
    try {
      await otherStore.replace(other, {
        epoch,
        revision: 1,
        signingKeys: [],
        chunks: chunks(
          [proxy('a')],
          Array.from({ length: 2500 }, (_, i) => credential(`c${i}`)),
        ),
      });
      let meanwhile = null as Promise<boolean> | null; // (a cast: set inside the sink, which narrowing cannot see)
      let sinks = 0;
      const held = new Map<string, SnapshotCredential>();
      const loaded = await otherStore.loadInto(other, () => {
        sinks++;
        return {
          held,
          upsert: (c: SnapshotCredential) => {
            // A change written while the credentials are read (queued behind this HSCAN, before the next).
            meanwhile ??= otherStore.apply({ ...change(2, 1), environment: other, credentials: { upserted: [credential('late'), credential('c9', false)], removed: ['c8'] } });
            held.set(c.id, c);
          },
          remove: (id: string) => held.delete(id),
        };
      });
      expect(await meanwhile).toBe(true);
      expect(sinks).toBe(1);
      expect(loaded!.snapshot).toMatchObject({ revision: 2, credentials: [], proxies: [proxy('a')] });
      expect(loaded!.credentials.held).toBe(held);
      expect([held.size, held.has('c8'), held.has('late'), held.get('c9')!.enabled]).toEqual([2500, false, true, false]);
    } finally {
      await otherStore.remove(other);
    }
  });

  it('keys every entry of an environment in one Cluster slot (hash tag)', () => {
    for (const key of Object.values(environmentConfigKeys(environment))) expect(key).toContain(`{${environment}}`);
  });
});

describe('EnvironmentConfigStore.storedDigests', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const store = new EnvironmentConfigStore(redis);
  const environment = `digests-${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    await store.remove(environment);
    redis.disconnect();
  });

  it('answers the digest of each stored entity (as the Manager computes it from its JSON), null where absent', async () => {
    const named = { ...credential('c3'), username: 'zoë-日本' }; // multi-byte: Redis hashes the stored bytes, as Node does
    const epoch = newPublicationEpoch();
    expect(await store.replace(environment, { epoch, revision: 1, signingKeys: [], chunks: chunks([proxy('a')], [named, credential('c4')]) })).toBe(true);
    expect(await redis.hget(environmentConfigKeys(environment).credentials, 'c3')).toBe(JSON.stringify(named));
    expect(await store.storedDigests(environment, 'credentials', ['c3', 'absent', 'c4'])).toEqual([
      entityDigest(JSON.stringify(named)),
      null,
      entityDigest(JSON.stringify(credential('c4'))),
    ]);
    expect(await store.storedDigests(environment, 'proxies', ['a', 'nope'])).toEqual([entityDigest(JSON.stringify(proxy('a'))), null]);
    expect(await store.storedDigests(environment, 'credentials', [])).toEqual([]);
  });
});
