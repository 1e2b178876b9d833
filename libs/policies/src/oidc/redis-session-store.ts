import type Redis from 'ioredis';
import type { OidcSessionStore } from './session-store';

interface WaitingRead {
  key: string;
  resolve: (value: string | null) => void;
  reject: (err: unknown) => void;
}

export interface SessionReadCacheOptions {
  /**
   * The connection invalidations arrive on (a connection of its own: a subscribed connection
   * sends no other command). Every write that ends or changes a session publishes its key, and
   * every Gateway's store forgets what it held of it when the message arrives.
   */
  subscriber: Redis;
  /**
   * How long a record read from Redis may answer later reads from memory (ms): the bound on how
   * long a Gateway can still honour a session ended elsewhere should an invalidation never arrive
   * (a connection that died without anyone noticing yet). A connection known to be down serves
   * nothing from memory.
   */
  ttlMs: number;
  /** Records held at most (the oldest go first). */
  maxEntries?: number;
  now?: () => number;
}

/** What a Gateway serves a session from between two reads of Redis. */
interface Cached {
  value: string;
  until: number;
}

/**
 * Sessions in Redis under `<prefix><key>`, each with its TTL (the earlier of the idle and the
 * absolute end), so Redis forgets sessions nobody uses. The connection is expected to fail fast
 * (no offline queue): a request then gets 503 at once instead of hanging.
 *
 * Reads are the hot path (one per request with a session). With a read cache (`cache`), a record
 * read from Redis answers the same session's requests from memory for up to `ttlMs`: a browser
 * or API client with a session sends many requests a second, and a Redis round trip per request
 * (the write and read syscalls, the reply's parsing) was most of what the `oidc` policy cost
 * beyond api-key (bench/README.md, issue #15). What keeps logout and revocation immediate on
 * every Gateway: a write that ends or changes a session (logout, a dropped session, an expired
 * one taken, refreshed tokens, last-seen) deletes or rewrites it and publishes its key in one
 * MULTI, every Gateway's store forgets its copy when the message arrives (before a request that
 * follows the logout can reach it, in practice), a read that was on its way while any key was
 * invalidated is not kept, and while the subscription is down (or not yet up) nothing is served
 * from memory and what was held is dropped. The TTL bounds the one remaining case: a message lost
 * on a connection that died unnoticed. Idle and absolute timeouts are checked by `OidcSessions`
 * on every request from the record's own times, cached or not; a session that looks ended in a
 * cached copy is read again from Redis before it is ended (`get(key, true)`).
 *
 * Without a cache, the reads asked for while the event loop handles one batch of sockets go to
 * Redis as one pipeline at the end of that batch (`setImmediate`), one write instead of one per
 * request. On a Cluster the keys of a batch hash to different slots, so each read is sent on its
 * own there.
 */
export class RedisOidcSessionStore implements OidcSessionStore {
  private waiting: WaitingRead[] = [];
  private readonly channel: string;
  private readonly cached = new Map<string, Cached>();
  /** True while the invalidation channel is subscribed on a live connection: only then is anything served from memory. */
  private subscribed = false;
  /** Bumped by every invalidation and subscription change: a read that began before one is not kept. */
  private generation = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly cache?: SessionReadCacheOptions,
  ) {
    this.channel = `${prefix}invalidated`;
    this.ttlMs = cache?.ttlMs ?? 0;
    this.maxEntries = cache?.maxEntries ?? 10_000;
    this.now = cache?.now ?? Date.now;
    if (cache !== undefined && this.ttlMs > 0) this.listen(cache.subscriber);
  }

  async create(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, value, 'PX', ttl(ttlMs), 'NX')) === 'OK';
  }

  async update(key: string, value: string, ttlMs: number): Promise<boolean> {
    const full = this.prefix + key;
    if (this.cache === undefined) return (await this.redis.set(full, value, 'PX', ttl(ttlMs), 'XX')) === 'OK';
    const written = await this.announced(full, (multi) => multi.set(full, value, 'PX', ttl(ttlMs), 'XX'));
    return written === 'OK';
  }

  /** `fresh`: from Redis, never from memory (a session about to be ended on what a copy says). */
  get(key: string, fresh = false): Promise<string | null> {
    const full = this.prefix + key;
    if (!this.subscribed) return this.read(full);
    if (!fresh) {
      const hit = this.cached.get(full);
      if (hit !== undefined) {
        if (hit.until > this.now()) return Promise.resolve(hit.value);
        this.cached.delete(full);
      }
    }
    const generation = this.generation;
    return this.read(full).then((value) => {
      if (value !== null && this.subscribed && generation === this.generation) this.keep(full, value);
      return value;
    });
  }

  /** GETDEL (Redis >= 6.2): two Gateways logging out the same session cannot both read it. */
  async take(key: string): Promise<string | null> {
    const full = this.prefix + key;
    if (this.cache === undefined) return this.redis.getdel(full);
    return (await this.announced(full, (multi) => multi.getdel(full))) as string | null;
  }

  /** Whether reads may be answered from memory now (the invalidation channel is subscribed on a live connection). */
  get listening(): boolean {
    return this.subscribed;
  }

  /** Stops listening for invalidations (the subscriber connection is the caller's to close). */
  close(): void {
    this.subscribed = false;
    this.cached.clear();
    this.cache?.subscriber.removeListener('message', this.onMessage);
  }

  private readonly onMessage = (channel: string, key: string): void => {
    if (channel === this.channel) this.forget(key);
  };

  private listen(subscriber: Redis): void {
    const stop = () => {
      this.subscribed = false;
      this.cached.clear();
      this.generation++;
    };
    const start = () => {
      subscriber.subscribe(this.channel).then(
        () => {
          // What was held before (nothing, after a stop) is dropped again: messages may have been missed.
          this.cached.clear();
          this.generation++;
          this.subscribed = subscriber.status === 'ready';
        },
        () => stop(),
      );
    };
    subscriber.on('message', this.onMessage);
    subscriber.on('close', stop);
    subscriber.on('end', stop);
    subscriber.on('reconnecting', stop);
    subscriber.on('ready', start);
    subscriber.on('error', () => undefined); // state follows close/ready; the outage is logged by the main connection
    if (subscriber.status === 'ready') start();
  }

  private forget(key: string): void {
    this.generation++;
    this.cached.delete(key);
  }

  private keep(key: string, value: string): void {
    if (this.cached.size >= this.maxEntries) this.cached.delete(this.cached.keys().next().value!);
    this.cached.set(key, { value, until: this.now() + this.ttlMs });
  }

  /**
   * A write of a session and the message that invalidates every Gateway's copy of it, in one
   * MULTI (the message after the write: a Gateway that reads again on receiving it reads the
   * new state); this store's own copy is forgotten before and after. On a Cluster the key and the
   * channel are not one slot's: the write, then the message.
   */
  private async announced(key: string, write: (multi: ReturnType<Redis['multi']>) => ReturnType<Redis['multi']>): Promise<unknown> {
    this.forget(key);
    try {
      if (this.redis.isCluster) {
        const [[err, value]] = (await write(this.redis.multi()).exec()) ?? [[new Error('transaction aborted'), null]];
        if (err) throw err;
        await this.redis.publish(this.channel, key);
        return value;
      }
      const answers = await write(this.redis.multi()).publish(this.channel, key).exec();
      if (answers === null) throw new Error('transaction aborted');
      for (const [err] of answers) if (err) throw err;
      return answers[0][1];
    } finally {
      this.forget(key);
    }
  }

  private read(key: string): Promise<string | null> {
    if (this.redis.isCluster) return this.redis.get(key);
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.readWaiting());
      this.waiting.push({ key, resolve, reject });
    });
  }

  private readWaiting(): void {
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 1) {
      this.redis.get(batch[0].key).then(batch[0].resolve, batch[0].reject);
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const read of batch) pipeline.get(read.key);
    pipeline.exec().then(
      (answers) =>
        batch.forEach((read, i) => {
          const [err, value] = answers?.[i] ?? [new Error('no answer from Redis'), null];
          if (err) read.reject(err);
          else read.resolve(value as string | null);
        }),
      (err: unknown) => batch.forEach((read) => read.reject(err)),
    );
  }
}

function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
