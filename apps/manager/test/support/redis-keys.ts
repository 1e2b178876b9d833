import type Redis from 'ioredis';

/**
 * Deletes every key of the shared Redis that names one of a test's environments (configuration,
 * change log, tokens, revocations, rate limits, brute-force blocks...): specs run against the developer's Redis and must
 * leave nothing behind. Matches the environment name as a whole `:`-separated segment so a
 * test never touches another test's keys.
 */
export async function removeEnvironmentKeys(redis: Redis, ...environments: string[]): Promise<void> {
  for (const environment of environments) {
    // The configuration and the token and rate-limit keys carry the environment as a Cluster hash tag.
    const tagged = [`idm:config:{${environment}}:*`, `{idm:tokens:${environment}}:*`, `{idm:rl:${environment}}:*`, `{idm:bf:${environment}}:*`];
    for (const pattern of [`idm:*:${environment}:*`, `idm:*:${environment}`, ...tagged]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  }
}
