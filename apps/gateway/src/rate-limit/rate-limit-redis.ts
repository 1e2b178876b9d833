import type { RedisTopology } from '@idm/config-bus';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { createFailFastRedis } from '../config/fail-fast-redis';

/** The rate-limit connection's provider token (the `rate-limit` policy's counters, dynamic client registration's). */
export const RATE_LIMIT_REDIS = Symbol('RateLimitRedis');

/**
 * A connection of its own for rate-limit counters, tuned for the request path: auto-pipelining
 * (concurrent requests share a write), no offline queue and a command timeout, so while Redis
 * is away a check fails within `timeoutMs` and the rule's fail-open/fail-closed setting decides.
 */
export function createRateLimitRedis(topology: RedisTopology, timeoutMs: number, log: Logger): Redis {
  return createFailFastRedis(topology, log, { name: 'idm-gateway-rate-limit', maxRetriesPerRequest: 0, commandTimeoutMs: timeoutMs, autoPipelining: true });
}
