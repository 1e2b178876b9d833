import type Redis from 'ioredis';
import { parseSnapshot, type ConfigSnapshot } from './snapshot.schema';

export const snapshotKey = (environment: string) => `idm:config:${environment}:snapshot`;
export const revisionKey = (environment: string) => `idm:config:${environment}:revision`;

/**
 * Writes only when the revision is newer than what Redis holds, atomically, so two Manager
 * writes racing after their commits can never leave an older snapshot on top.
 */
const WRITE_IF_NEWER = `
local current = tonumber(redis.call('GET', KEYS[2]) or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
return 1`;

/** Snapshot persistence in Redis, shared by the Manager (writer) and Gateways (readers). */
export class SnapshotStore {
  constructor(private readonly redis: Redis) {}

  async write(snapshot: ConfigSnapshot): Promise<boolean> {
    const env = snapshot.environment;
    const written = await this.redis.eval(WRITE_IF_NEWER, 2, snapshotKey(env), revisionKey(env), snapshot.revision, JSON.stringify(snapshot));
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

  async remove(environment: string): Promise<void> {
    await this.redis.del(snapshotKey(environment), revisionKey(environment));
  }
}
