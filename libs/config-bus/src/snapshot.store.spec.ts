import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { newPublicationEpoch } from './publication-epoch';
import { SNAPSHOT_SCHEMA_VERSION } from './snapshot.schema';
import { SnapshotStore } from './snapshot.store';

describe('SnapshotStore on a real Redis', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const store = new SnapshotStore(redis);
  const environment = `store-${randomBytes(4).toString('hex')}`;
  const first = newPublicationEpoch();
  const snapshot = (revision: number, epoch = first) => ({ schemaVersion: SNAPSHOT_SCHEMA_VERSION, environment, epoch, revision, generatedAt: 'now', proxies: [], credentials: [], signingKeys: [] });

  afterAll(async () => {
    await store.remove(environment);
    redis.disconnect();
  });

  it('keeps the newest revision when an older write arrives late', async () => {
    expect(await store.write(snapshot(2))).toBe(true);
    expect(await store.write(snapshot(1))).toBe(false);
    expect(await store.write(snapshot(2))).toBe(false);
    expect((await store.read(environment))?.revision).toBe(2);
    expect(await store.revision(environment)).toBe(2);
    expect(await store.write(snapshot(3))).toBe(true);
    expect(await store.revision(environment)).toBe(3);
  });

  it('orders by (epoch, revision): a newer epoch supersedes any revision, an older one none', async () => {
    await store.write(snapshot(9));
    const next = newPublicationEpoch(first);
    expect(next > first).toBe(true);
    expect(await store.write(snapshot(1, next))).toBe(true); // a fresh or restored database, revision 1
    expect(await store.head(environment)).toEqual({ epoch: next, revision: 1 });
    expect(await store.write(snapshot(10, first))).toBe(false); // the old database cannot come back on top
    expect(await store.write(snapshot(1, next))).toBe(false);
    expect(await store.write(snapshot(2, next))).toBe(true);
    expect(await store.read(environment)).toMatchObject({ epoch: next, revision: 2 });
  });

  it('answers null for an environment it has never seen', async () => {
    expect(await store.read(`${environment}-none`)).toBeNull();
    expect(await store.revision(`${environment}-none`)).toBeNull();
    expect(await store.head(`${environment}-none`)).toBeNull();
  });
});
