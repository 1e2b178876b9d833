import type { RedisTopology } from '@idm/config-bus';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { createFailFastRedis } from '../config/fail-fast-redis';

/**
 * The Gateway's own Redis connection for snapshot reads. No offline queue: while Redis is away a
 * read fails at once (and the last config keeps serving) instead of piling up; reconnects go on
 * forever with a capped backoff.
 */
export function createConfigRedis(topology: RedisTopology, log: Logger): Redis {
  return createFailFastRedis(topology, log, { name: 'idm-gateway-config', maxRetriesPerRequest: 1 });
}
