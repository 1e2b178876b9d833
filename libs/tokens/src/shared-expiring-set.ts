import { ChannelMirror } from '@idm/config-bus';
import type Redis from 'ioredis';
import { RedisScript } from './redis-script';

/**
 * A set of members, each in force until a time, shared by every Gateway of an environment and
 * read in memory (a Map lookup) on the request path. Redis holds it:
 * - a sorted set (member, score: until when the entry matters, in the set's unit) is the set
 *   itself; an add keeps the later of two times, prunes what passed, and the key expires with
 *   its last entry;
 * - the same script publishes `<member> <until>` on `<key>:events`; every instance subscribes;
 * - on (re)subscribing an instance reloads the set (`ChannelMirror`), so what was published
 *   while its subscriber was away is not lost. Entries are only ever extended, so loading and messages merge in any order.
 * Local entries are dropped once their time passed. Used by the revoked JWT ids.
 */
export interface SharedExpiringSetOptions {
  /** Sorted set; `<key>:events` is the channel. */
  key: string;
  /** Unit of the `until` times (and of the scores): epoch seconds or epoch milliseconds. */
  unit: 'seconds' | 'milliseconds';
  /** A published message back to its entry; null for a malformed one (reported, ignored). */
  parse: (message: string) => { member: string; until: number } | null;
  /** Epoch milliseconds; injectable for tests. */
  clock?: () => number;
  /** A load that failed (it is retried) or a malformed message. */
  onError?: (err: unknown) => void;
}

// KEYS[1] set; ARGV: member, until, now, EXPIREAT|PEXPIREAT. ZADD GT: a later time wins, an earlier never shortens.
const ADD = new RedisScript(`
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call(ARGV[4], KEYS[1], last[2]) end
redis.call('PUBLISH', KEYS[1] .. ':events', ARGV[1] .. ' ' .. ARGV[2])
return 1
`);

const PRUNE_INTERVAL_MS = 60_000;

export class SharedExpiringSet {
  private readonly entries = new Map<string, number>();
  private readonly subscription: ChannelMirror;
  private readonly clock: () => number;
  private pruneTimer: NodeJS.Timeout | null = null;
  private everLoaded = false;

  /**
   * `redis` runs the commands; `subscriber` is a connection of its own (subscriber mode allows
   * nothing else) that reconnects on its own. Neither is closed here.
   */
  constructor(
    private readonly redis: Redis,
    subscriber: Redis,
    private readonly options: SharedExpiringSetOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.subscription = new ChannelMirror(subscriber, `${options.key}:events`, {
      load: () => this.load(),
      apply: (message) => this.apply(message),
      onError: (err) => options.onError?.(err),
    });
  }

  /** True once the shared set was read at least once. */
  get loaded(): boolean {
    return this.everLoaded;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Until when `member` is in force locally (in the set's unit), or undefined. May be in the past until the next prune. */
  until(member: string): number | undefined {
    return this.entries.get(member);
  }

  /** Remembers locally at once, then adds to the shared set and tells every instance. Rejects when Redis cannot take it. */
  async add(member: string, until: number): Promise<void> {
    this.remember(member, until);
    await ADD.run(this.redis, [this.options.key], [member, until, this.now(), this.options.unit === 'seconds' ? 'EXPIREAT' : 'PEXPIREAT']);
  }

  /** Subscribes and loads now (or as soon as the subscriber connects), and again after every reconnect. */
  start(): void {
    this.subscription.start();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  stop(): void {
    this.subscription.stop();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }

  /** Reads the whole shared set into memory (what is still in force). */
  async load(): Promise<void> {
    const flat = await this.redis.zrangebyscore(this.options.key, this.now(), '+inf', 'WITHSCORES');
    for (let i = 0; i + 1 < flat.length; i += 2) this.remember(flat[i], Number(flat[i + 1]));
    this.everLoaded = true;
  }

  /** Drops the entries whose time passed (also run every minute). */
  prune(): void {
    const now = this.now();
    for (const [member, until] of this.entries) if (until < now) this.entries.delete(member);
  }

  private apply(message: string): void {
    const entry = this.options.parse(message);
    if (entry === null) {
      this.options.onError?.(new Error(`malformed message on ${this.subscription.channel} ignored`));
      return;
    }
    this.remember(entry.member, entry.until);
  }

  private remember(member: string, until: number): void {
    const known = this.entries.get(member);
    if (known === undefined || known < until) this.entries.set(member, until);
  }

  private now(): number {
    const ms = this.clock();
    return this.options.unit === 'seconds' ? Math.floor(ms / 1000) : ms;
  }
}
