import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/** Fixed windows: per browser address (any email) and per email (from any address), so neither a script nor a distributed one floods a mailbox. */
const LIMITS = [
  { scope: 'address', max: 10, windowSeconds: 600 },
  { scope: 'email', max: 3, windowSeconds: 600 },
] as const;

const keyOf = (projectId: string, scope: string, value: string) =>
  `{idm:eu-rate}:${projectId}:${scope}:${createHash('sha256').update(value.toLowerCase()).digest('hex').slice(0, 32)}`;

/**
 * Rate limit of the mail-sending actions (register, request a reset): counted in Redis so every
 * Manager shares it. Null: allowed; a number: seconds until the fullest window ends (Retry-After).
 */
export class SelfServiceRateLimit {
  constructor(private readonly redis: Redis) {}

  async hit(projectId: string, address: string, email: string): Promise<number | null> {
    let retryAfter: number | null = null;
    for (const limit of LIMITS) {
      const key = keyOf(projectId, limit.scope, limit.scope === 'address' ? address : email);
      const [[, count], [, ttl]] = (await this.redis.multi().incr(key).ttl(key).exec()) as [[null, number], [null, number]];
      if (ttl < 0) await this.redis.expire(key, limit.windowSeconds);
      if (count > limit.max) retryAfter = Math.max(retryAfter ?? 1, ttl > 0 ? ttl : limit.windowSeconds);
    }
    return retryAfter;
  }

  /** Test and operator clean-up: the counters of one project. */
  static keyPattern(projectId: string): string {
    return `{idm:eu-rate}:${projectId}:*`;
  }
}
