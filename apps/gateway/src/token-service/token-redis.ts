import type { RedisTopology } from '@idm/config-bus';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { createFailFastRedis } from '../config/fail-fast-redis';

/**
 * Connections of the token service. Token calls fail fast while Redis is away (no offline queue,
 * one retry, a command timeout) so a client gets 503 at once instead of a hanging request.
 */
export function createTokenRedis(topology: RedisTopology, log: Logger, name: string): Redis {
  return createFailFastRedis(topology, log, { name, maxRetriesPerRequest: 1, commandTimeoutMs: 2_000 });
}
