import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { SNAPSHOT_SCHEMA_VERSION } from './snapshot.schema';
import { SnapshotStore } from './snapshot.store';

describe('SnapshotStore on a real Redis', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const store = new SnapshotStore(redis);
  const environment = `store-${randomBytes(4).toString('hex')}`;
  const snapshot = (revision: number) => ({ schemaVersion: SNAPSHOT_SCHEMA_VERSION, environment, revision, generatedAt: 'now', proxies: [], credentials: [] }) as const;

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

  it('answers null for an environment it has never seen', async () => {
    expect(await store.read(`${environment}-none`)).toBeNull();
    expect(await store.revision(`${environment}-none`)).toBeNull();
  });
});
