import { createRedisClient, reportRedisOutages, type RedisTopology } from '@idm/config-bus';
import type Redis from 'ioredis';
import type { Logger } from 'pino';

export interface FailFastRedisOptions {
  /** Connection name, shown by CLIENT LIST and on the log line of an outage. */
  name: string;
  maxRetriesPerRequest: number;
  commandTimeoutMs?: number;
  /** Concurrent commands of one event-loop turn share one write (request-path connections). */
  autoPipelining?: boolean;
}

/**
 * Every Redis connection of the Gateway: no offline queue, so while Redis is away a command
 * fails at once instead of piling up (each caller decides what that means: keep serving the last
 * config, fail open/closed, answer 503); reconnects go on forever with a capped backoff; the
 * first error of an outage is logged once, not on every retry.
 */
export function createFailFastRedis(topology: RedisTopology, log: Logger, options: FailFastRedisOptions): Redis {
  const redis = createRedisClient(topology, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: options.maxRetriesPerRequest,
    ...(options.commandTimeoutMs !== undefined && { commandTimeout: options.commandTimeoutMs }),
    ...(options.autoPipelining && { enableAutoPipelining: true }),
    retryStrategy: (attempt) => Math.min(attempt * 250, 2_000),
    connectionName: options.name,
  });
  // Not under `err`: pino's error serializer keeps only message and stack of a plain object.
  reportRedisOutages(redis, topology, ({ message, code, hint }) => log.warn({ connection: options.name, error: message, code, hint }, 'Redis connection error'));
  return redis;
}
