import type Redis from 'ioredis';
import type { OidcSessionStore } from './session-store';

interface WaitingRead {
  key: string;
  resolve: (value: string | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Sessions in Redis under `<prefix><key>`, each with its TTL (the earlier of the idle and the
 * absolute end), so Redis forgets sessions nobody uses. The connection is expected to fail fast
 * (no offline queue): a request then gets 503 at once instead of hanging.
 *
 * Reads are the hot path (one per request with a session): the reads asked for while the event
 * loop handles one batch of sockets go to Redis as one pipeline at the end of that batch
 * (`setImmediate`), one write instead of one per request — the syscalls, not Redis, were most of
 * the policy's cost under load (bench/README.md, issue #15). Every read still asks Redis, so a
 * logout on any Gateway ends the session at once everywhere. On a Cluster the keys of a batch
 * hash to different slots, so each read is sent on its own there.
 */
export class RedisOidcSessionStore implements OidcSessionStore {
  private waiting: WaitingRead[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async create(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, value, 'PX', ttl(ttlMs), 'NX')) === 'OK';
  }

  async update(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, value, 'PX', ttl(ttlMs), 'XX')) === 'OK';
  }

  get(key: string): Promise<string | null> {
    if (this.redis.isCluster) return this.redis.get(this.prefix + key);
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.readWaiting());
      this.waiting.push({ key: this.prefix + key, resolve, reject });
    });
  }

  /** GETDEL (Redis >= 6.2): two Gateways logging out the same session cannot both read it. */
  take(key: string): Promise<string | null> {
    return this.redis.getdel(this.prefix + key);
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
