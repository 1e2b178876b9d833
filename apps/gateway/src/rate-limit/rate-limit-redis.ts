import Redis from 'ioredis';
import type { Logger } from 'pino';

/**
 * A connection of its own for rate-limit counters, tuned for the request path: auto-pipelining
 * (concurrent requests share a write), no offline queue and a command timeout, so while Redis
 * is away a check fails within `timeoutMs` and the rule's fail-open/fail-closed setting decides.
 */
export function createRateLimitRedis(url: string, timeoutMs: number, log: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 250, 2_000),
    connectionName: 'idm-gateway-rate-limit',
  });
  let reported = false;
  redis.on('error', (err) => {
    if (!reported) log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'rate-limit Redis connection error');
    reported = true;
  });
  redis.on('ready', () => {
    reported = false;
  });
  return redis;
}
