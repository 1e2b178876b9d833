import { BruteForceStore, type BruteForceBlock, type BruteForceSettings } from '@idm/config-bus';
import Redis from 'ioredis';

/** Every detector at 1: one failure starts a block of each kind it counts, as a Gateway's would. */
const AT_ONCE: BruteForceSettings = {
  perCredential: 1,
  perAddress: 1,
  perCredentialAddress: 1,
  windowSeconds: 60,
  lockoutSeconds: 600,
  maxLockoutSeconds: 600,
  strikeMemorySeconds: 60,
};

/**
 * Starts brute-force blocks in an environment the way a Gateway does (the same store and script),
 * for Manager specs that run without Gateways. `credential` null: an address block only.
 */
export async function seedBlocks(
  environment: string,
  attempt: { credential: { username: string; projectId: string | null } | null; address: string },
  detectors: Partial<Pick<BruteForceSettings, 'perCredential' | 'perAddress' | 'perCredentialAddress'>> = {},
): Promise<BruteForceBlock[]> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    const credential = attempt.credential && {
      key: `${attempt.credential.projectId}:${attempt.credential.username}`,
      label: attempt.credential.username,
      projectId: attempt.credential.projectId,
    };
    return await new BruteForceStore(redis, environment).recordFailure({ credential, address: attempt.address, source: 'proxy' }, { ...AT_ONCE, ...detectors }, Date.now());
  } finally {
    redis.disconnect();
  }
}
