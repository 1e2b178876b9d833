import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { redisConnectionOptions } from './redis-connection';
import type { RedisTopology } from './redis-topology';

/**
 * The one place a Redis connection of either app is made: a plain client for `single`, a client
 * that asks the Sentinels for the master (and follows a failover) for `sentinel`, an ioredis
 * Cluster for `cluster`. `options` are the caller's per-connection behaviour (offline queue,
 * retries, timeouts, connection name); `retryStrategy` also paces Sentinel and Cluster retries.
 *
 * Typed as `Redis`: a Cluster answers the same commands, pub/sub and events the request-path
 * classes use. Everything that runs a multi-key script keeps its keys in one hash slot (hash
 * tags in the key names), which a Cluster requires.
 */
export function createRedisClient(topology: RedisTopology, options: RedisOptions = {}): Redis {
  switch (topology.mode) {
    case 'single':
      // Credentials in the URL win over the separate variables.
      return new Redis({
        username: topology.username,
        password: topology.password,
        ...redisConnectionOptions(topology.url),
        ...(topology.tls && { tls: topology.tls }),
        ...options,
      });
    case 'sentinel':
      return new Redis({
        sentinels: topology.sentinels,
        name: topology.masterName,
        username: topology.username,
        password: topology.password,
        sentinelPassword: topology.sentinelPassword,
        // TLS to the Sentinels and to the master they name (ioredis applies `tls` to the master only with the flag).
        ...(topology.tls && { sentinelTLS: topology.tls, tls: topology.tls, enableTLSForSentinelMode: true }),
        ...options,
        // A Sentinel that cannot be reached is retried like the data connection (ioredis default: give up).
        ...(options.retryStrategy && { sentinelRetryStrategy: options.retryStrategy }),
        // After a failover the old master turns replica: reconnect (to the new master) on READONLY.
        reconnectOnError: (err) => err.message.startsWith('READONLY'),
      });
    case 'cluster': {
      const { lazyConnect, enableOfflineQueue, enableAutoPipelining, retryStrategy, ...nodeOptions } = options;
      const cluster = new Cluster(topology.nodes, {
        lazyConnect,
        enableOfflineQueue,
        enableAutoPipelining,
        ...(retryStrategy && { clusterRetryStrategy: (attempt: number) => retryStrategy(attempt) ?? null }),
        // Every node, the seeds and those discovered, with the same TLS settings.
        redisOptions: { username: topology.username, password: topology.password, ...(topology.tls && { tls: topology.tls }), ...nodeOptions },
      });
      return cluster as unknown as Redis;
    }
  }
}

/** How long a closing app waits on Redis (a QUIT acknowledged, a publication in flight). */
export const REDIS_CLOSE_WAIT_MS = 1_000;

/**
 * Waits for `work` to settle, but at most `waitMs`: a Redis that stopped answering (frozen,
 * partitioned without a reset) never answers a QUIT or a command in flight, and a shutdown waiting
 * on it would hold the process until its SIGKILL. The caller then drops the connections.
 */
export async function settledWithin(work: Promise<unknown>, waitMs = REDIS_CLOSE_WAIT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
}

/** Closes `redis` politely (QUIT: pending replies first), dropping the connection if Redis does not acknowledge in time. */
export async function closeRedis(redis: Redis): Promise<void> {
  await settledWithin(redis.quit());
  redis.disconnect();
}

/**
 * A BullMQ Queue or Worker, closed like closeRedis: politely but bounded, then its connections are
 * dropped. Bounded also because a Worker whose blocking connection is reconnecting (Redis down
 * for longer than its blocking wait) never finishes close() (BullMQ issue 4656).
 */
export async function closeQueue(queue: { close(): Promise<void>; disconnect(): Promise<void> }): Promise<void> {
  await settledWithin(queue.close());
  // Local (the sockets are dropped): nothing to wait for but its bookkeeping.
  void queue.disconnect().catch(() => undefined);
}
