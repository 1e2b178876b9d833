import type Redis from 'ioredis';

/**
 * Deletes every key of the shared Redis that names one of a test's environments (snapshot,
 * revision, epoch, tokens, revocations...): specs run against the developer's Redis and must
 * leave nothing behind. Matches the environment name as a whole `:`-separated segment so a
 * test never touches another test's keys.
 */
export async function removeEnvironmentKeys(redis: Redis, ...environments: string[]): Promise<void> {
  for (const environment of environments) {
    for (const pattern of [`idm:*:${environment}:*`, `idm:*:${environment}`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  }
}
