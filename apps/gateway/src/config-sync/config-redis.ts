import Redis from 'ioredis';
import type { Logger } from 'pino';

/**
 * The Gateway's own Redis connection for snapshot reads. No offline queue: while Redis is away a
 * read fails at once (and the last config keeps serving) instead of piling up; reconnects go on
 * forever with a capped backoff.
 */
export function createConfigRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 250, 2_000),
    connectionName: 'idm-gateway-config',
  });
  let reported = false;
  redis.on('error', (err) => {
    if (!reported) log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'Redis connection error');
    reported = true;
  });
  redis.on('ready', () => {
    reported = false;
  });
  return redis;
}

/** ioredis options for the @nestjs/microservices Redis transport, which takes no URL. */
export function redisTransportOptions(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.password && { password: decodeURIComponent(u.password) }),
    ...(u.pathname.length > 1 && { db: Number(u.pathname.slice(1)) }),
    ...(u.protocol === 'rediss:' && { tls: {} }),
    // The transport gives up after `retryAttempts`; a Gateway must keep trying for as long as it runs.
    retryAttempts: Number.MAX_SAFE_INTEGER,
    retryDelay: 1_000,
  };
}
