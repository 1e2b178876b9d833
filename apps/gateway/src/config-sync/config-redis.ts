import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { createFailFastRedis } from '../config/fail-fast-redis';

/**
 * The Gateway's own Redis connection for snapshot reads. No offline queue: while Redis is away a
 * read fails at once (and the last config keeps serving) instead of piling up; reconnects go on
 * forever with a capped backoff.
 */
export function createConfigRedis(url: string, log: Logger): Redis {
  return createFailFastRedis(url, log, { name: 'idm-gateway-config', maxRetriesPerRequest: 1 });
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
