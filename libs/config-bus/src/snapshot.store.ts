import type Redis from 'ioredis';
import { parseSnapshot, type ConfigSnapshot } from './snapshot.schema';

/** An environment's keys share a hash tag: the publication script writes all three, and a Redis Cluster runs a script only on keys of one slot. */
const environmentTag = (environment: string) => `{idm:config:${environment}}`;
export const snapshotKey = (environment: string) => `${environmentTag(environment)}:snapshot`;
export const revisionKey = (environment: string) => `${environmentTag(environment)}:revision`;
export const epochKey = (environment: string) => `${environmentTag(environment)}:epoch`;

/** Where an environment's stored snapshot stands, read without the (large) snapshot itself. */
export interface PublicationHead {
  /** null for a snapshot written before epochs existed. */
  epoch: string | null;
  revision: number;
}

/**
 * Writes only when (epoch, revision) is newer than what Redis holds, atomically: a newer epoch
 * (fresh or restored database, see publication-epoch.ts) supersedes any revision, within one
 * epoch only a higher revision does. So two Manager writes racing after their commits can never
 * leave an older snapshot on top, and a Manager on an old database cannot overwrite a newer one.
 * Epochs compare as strings in Lua exactly as in TypeScript (byte order).
 */
const WRITE_IF_NEWER = `
local storedEpoch = redis.call('GET', KEYS[3])
local current = tonumber(redis.call('GET', KEYS[2]) or '-1')
if storedEpoch and ARGV[3] < storedEpoch then return 0 end
if storedEpoch == ARGV[3] and tonumber(ARGV[1]) <= current then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[3])
return 1`;

/** Snapshot persistence in Redis, shared by the Manager (writer) and Gateways (readers). */
export class SnapshotStore {
  constructor(private readonly redis: Redis) {}

  async write(snapshot: ConfigSnapshot): Promise<boolean> {
    const env = snapshot.environment;
    const written = await this.redis.eval(WRITE_IF_NEWER, 3, snapshotKey(env), revisionKey(env), epochKey(env), snapshot.revision, JSON.stringify(snapshot), snapshot.epoch);
    return written === 1;
  }

  async read(environment: string): Promise<ConfigSnapshot | null> {
    const json = await this.redis.get(snapshotKey(environment));
    return json === null ? null : parseSnapshot(json);
  }

  async revision(environment: string): Promise<number | null> {
    const value = await this.redis.get(revisionKey(environment));
    return value === null ? null : Number(value);
  }

  /** Epoch and revision of the stored snapshot, or null when there is none. */
  async head(environment: string): Promise<PublicationHead | null> {
    const [epoch, revision] = await this.redis.mget(epochKey(environment), revisionKey(environment));
    return revision === null ? null : { epoch, revision: Number(revision) };
  }

  async remove(environment: string): Promise<void> {
    await this.redis.del(snapshotKey(environment), revisionKey(environment), epochKey(environment));
  }
}
