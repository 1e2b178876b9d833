import { ClientRedis, ServerRedis } from '@nestjs/microservices';
import type Redis from 'ioredis';
import { createRedisClient } from './redis-client';
import { explainedRedisError } from './redis-outages';
import type { RedisTopology } from './redis-topology';

/**
 * The @nestjs/microservices Redis transport (`config.changed` events, `tokens.lookup` requests)
 * on any topology. Nest's own transport builds `new Redis(options)`: that reaches one server or,
 * given `sentinels`, a Sentinel master, but never a Cluster. These subclasses keep the transport
 * (patterns, serialization, reconnect bookkeeping) and only take their two connections from
 * createRedisClient. On a Cluster, PUBLISH reaches the subscribers of every node (classic pub/sub
 * is broadcast over the cluster bus) and ioredis moves the subscription when its node fails.
 */
const BUS_RETRY_DELAY_MS = 1_000;

/** The transport gives up after `retryAttempts` (and without it never reconnects); an app keeps trying for as long as it runs. */
const transportOptions = (retryDelay: number) => ({ retryAttempts: Number.MAX_SAFE_INTEGER, retryDelay });

/** One of the transport's two connections (publisher, subscriber), paced by the transport's own retry rule. */
const busConnection = (topology: RedisTopology, retry: (times: number) => number | undefined | void): Redis =>
  createRedisClient(topology, { lazyConnect: true, retryStrategy: (times) => retry(times) ?? null });

export class RedisBusServer extends ServerRedis {
  constructor(
    private readonly topology: RedisTopology,
    retryDelayMs = BUS_RETRY_DELAY_MS,
  ) {
    super(transportOptions(retryDelayMs));
  }

  override createRedisClient(): Redis {
    return busConnection(this.topology, (times) => this.createRetryStrategy(times));
  }

  /** A bus that cannot connect stops the boot: with the reason an operator can act on (a refused TLS certificate, say). */
  override start(callback?: (err?: unknown) => void): void {
    super.start((err?: unknown) => {
      if (err instanceof Error) void explainedRedisError(err, this.topology).then(callback);
      else callback?.(err);
    });
  }
}

export class RedisBusClient extends ClientRedis {
  constructor(
    private readonly topology: RedisTopology,
    retryDelayMs = BUS_RETRY_DELAY_MS,
  ) {
    super(transportOptions(retryDelayMs));
  }

  override createClient(): Redis {
    return busConnection(this.topology, (times) => this.createRetryStrategy(times));
  }
}
