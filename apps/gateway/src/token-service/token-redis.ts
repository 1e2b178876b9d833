import Redis from 'ioredis';
import type { Logger } from 'pino';

/**
 * Connections of the token service. Token calls fail fast while Redis is away (no offline queue,
 * one retry, a command timeout) so a client gets 503 at once instead of a hanging request.
 */
export function createTokenRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 250, 2_000),
    connectionName: name,
  });
  let reported = false;
  redis.on('error', (err) => {
    if (!reported) log.warn({ err: { message: err.message } }, `${name}: Redis connection error`);
    reported = true;
  });
  redis.on('ready', () => {
    reported = false;
  });
  return redis;
}
