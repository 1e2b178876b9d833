import type Redis from 'ioredis';
import { jwtRevocationMessageSchema, REVOCABLE_JTI } from './jwt-revocation.message';
import type { RevokedTokenIds } from './jwt-verifier';
import { RedisScript } from './redis-script';
import { TokenStoreUnavailable } from './token-store-unavailable';

/**
 * The `jti`s of revoked JWT access tokens, shared by every Gateway of an environment. A JWT is
 * checked in memory on every request, so each Gateway keeps the list as a Map (a lookup is all
 * `has` costs) fed from Redis:
 * - a sorted set (member `jti`, score: the epoch second until which the entry matters: the
 *   token's `exp` plus the largest clock skew a verifier allows) is the list itself; a revocation
 *   adds to it and prunes what expired, and the key expires with its last entry;
 * - the same script publishes `<jti> <keepUntil>` on `<key>:events`; every Gateway subscribes;
 * - on (re)subscribing a Gateway reloads the set, so what was published while its subscriber
 *   was away is not lost. Entries are only ever added, so loading and messages merge in any order.
 * Local entries are dropped once their token could no longer verify anyway.
 */
export interface RevokedJwtIdsOptions {
  /** Sorted set of this environment's revoked ids; `<key>:events` is the channel. */
  key: string;
  /** Seconds an entry outlives the token's `exp`: at least the largest clock skew a verifier accepts. Default 300. */
  retainAfterExpirySeconds?: number;
  /** Epoch milliseconds; injectable for tests. */
  clock?: () => number;
  /** A load that failed (it is retried) or a malformed message; never carries a token. */
  onError?: (err: unknown) => void;
}

// KEYS[1] set; ARGV: jti, keepUntil (s), now (s). ZADD GT: a later keepUntil wins, an earlier never shortens.
const REVOKE = new RedisScript(`
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('EXPIREAT', KEYS[1], last[2]) end
redis.call('PUBLISH', KEYS[1] .. ':events', ARGV[1] .. ' ' .. ARGV[2])
return 1
`);

const PRUNE_INTERVAL_MS = 60_000;
const RELOAD_RETRY_MS = 1_000;

export class RevokedJwtIds implements RevokedTokenIds {
  private readonly ids = new Map<string, number>();
  private readonly channel: string;
  private readonly retain: number;
  private readonly clock: () => number;
  private pruneTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private everLoaded = false;

  /**
   * `redis` runs the commands; `subscriber` is a connection of its own (subscriber mode allows
   * nothing else) that reconnects on its own. Neither is closed here.
   */
  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly options: RevokedJwtIdsOptions,
  ) {
    this.channel = `${options.key}:events`;
    this.retain = options.retainAfterExpirySeconds ?? 300;
    this.clock = options.clock ?? Date.now;
  }

  /** True once the shared list was read at least once: before that a revoked token could pass. */
  get loaded(): boolean {
    return this.everLoaded;
  }

  get size(): number {
    return this.ids.size;
  }

  has(jti: string): boolean {
    return this.ids.has(jti);
  }

  /**
   * Revokes a token until `exp` (+ skew) on every Gateway. This Gateway refuses it at once; the
   * others when the message arrives (or at their next reload). Throws TokenStoreUnavailable when
   * Redis cannot take it, so the caller can ask the client to retry.
   */
  async revoke(jti: string, exp: number): Promise<void> {
    if (!REVOCABLE_JTI.test(jti) || !Number.isSafeInteger(exp)) return;
    const keepUntil = exp + this.retain;
    this.remember(jti, keepUntil);
    try {
      await REVOKE.run(this.redis, [this.options.key], [jti, keepUntil, this.nowSeconds()]);
    } catch (err) {
      throw new TokenStoreUnavailable(err);
    }
  }

  /** Subscribes and loads now (or as soon as the subscriber connects), and again after every reconnect. */
  start(): void {
    this.subscriber.on('message', this.onMessage);
    this.subscriber.on('ready', this.resync);
    if (this.subscriber.status === 'ready') this.resync();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.subscriber.off('message', this.onMessage);
    this.subscriber.off('ready', this.resync);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** Reads the whole shared list into memory (what is still in force). */
  async load(): Promise<void> {
    const flat = await this.redis.zrangebyscore(this.options.key, this.nowSeconds(), '+inf', 'WITHSCORES');
    for (let i = 0; i + 1 < flat.length; i += 2) this.remember(flat[i], Number(flat[i + 1]));
    this.everLoaded = true;
  }

  private readonly resync = (): void => {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    // Subscribe first, then load: a revocation published in between is in the set, one after arrives as a message.
    this.subscriber
      .subscribe(this.channel)
      .then(() => this.load())
      .catch((err: unknown) => {
        this.options.onError?.(err);
        if (!this.stopped) {
          this.retryTimer = setTimeout(this.resync, RELOAD_RETRY_MS);
          this.retryTimer.unref();
        }
      });
  };

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const revocation = jwtRevocationMessageSchema.safeParse(message);
    if (!revocation.success) {
      this.options.onError?.(new Error('malformed revocation message ignored'));
      return;
    }
    this.remember(revocation.data.jti, revocation.data.keepUntil);
  };

  private remember(jti: string, keepUntil: number): void {
    const known = this.ids.get(jti);
    if (known === undefined || known < keepUntil) this.ids.set(jti, keepUntil);
  }

  private prune(): void {
    const now = this.nowSeconds();
    for (const [jti, keepUntil] of this.ids) if (keepUntil < now) this.ids.delete(jti);
  }

  private nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }
}
