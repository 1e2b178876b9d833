import { ClientRedis, ServerRedis } from '@nestjs/microservices';
import type Redis from 'ioredis';
import { createRedisClient, settledWithin } from './redis-client';
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

/**
 * The transport's close, bounded: Nest's waits for each QUIT to be acknowledged, and a Redis that
 * stopped answering must not hold the shutdown. Then the two connections are dropped.
 */
async function closedWithin(connections: (Redis | null)[], close: () => Promise<void>): Promise<void> {
  await settledWithin(close());
  for (const redis of connections) redis?.disconnect();
}

export class RedisBusServer extends ServerRedis {
  private readonly textHandlers = new Map<string, (text: string) => Promise<unknown>>();

  constructor(
    private readonly topology: RedisTopology,
    retryDelayMs = BUS_RETRY_DELAY_MS,
  ) {
    super(transportOptions(retryDelayMs));
  }

  override createRedisClient(): Redis {
    return busConnection(this.topology, (times) => this.createRetryStrategy(times));
  }

  /**
   * Hands the messages of `channel` to `handler` as the text received, not parsed: the transport
   * parses every message in the turn it arrives, and a Gateway busy with a full load drops the
   * `config.changed` messages that arrive meanwhile (one catch-up from the change log replaces
   * them). A Manager reconciling a million credentials publishes thousands of them, each parsed
   * for nothing (issue #13). The handler decides whether and when to parse (decodeConfigChanged).
   */
  addTextHandler(channel: string, handler: (text: string) => Promise<unknown>): void {
    this.textHandlers.set(channel, handler);
    // Registered with the transport too: it subscribes to its handlers' patterns, at start and after each reconnect.
    this.addHandler(channel, () => Promise.resolve(), true);
  }

  override handleMessage(channel: string, buffer: string, pub: Redis, pattern: string): Promise<unknown> {
    const text = this.textHandlers.get(channel);
    return text ? text(buffer) : super.handleMessage(channel, buffer, pub, pattern);
  }

  override close(): Promise<void> {
    return closedWithin([this.pubClient, this.subClient] as (Redis | null)[], () => super.close());
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

  override close(): Promise<void> {
    return closedWithin([this.pubClient, this.subClient] as (Redis | null)[], () => super.close());
  }
}
