import type Redis from 'ioredis';
import { jwtRevocationMessageSchema, REVOCABLE_JTI } from './jwt-revocation.message';
import type { RevokedTokenIds } from './jwt-verifier';
import { SharedExpiringSet } from './shared-expiring-set';
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
 * Local entries are dropped once their token could no longer verify anyway. The machinery is
 * SharedExpiringSet's (scores in epoch seconds).
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

export class RevokedJwtIds implements RevokedTokenIds {
  private readonly set: SharedExpiringSet;
  private readonly retain: number;

  /**
   * `redis` runs the commands; `subscriber` is a connection of its own (subscriber mode allows
   * nothing else) that reconnects on its own. Neither is closed here.
   */
  constructor(redis: Redis, subscriber: Redis, options: RevokedJwtIdsOptions) {
    this.retain = options.retainAfterExpirySeconds ?? 300;
    this.set = new SharedExpiringSet(redis, subscriber, {
      key: options.key,
      unit: 'seconds',
      clock: options.clock,
      onError: options.onError,
      parse: (message) => {
        const revocation = jwtRevocationMessageSchema.safeParse(message);
        return revocation.success ? { member: revocation.data.jti, until: revocation.data.keepUntil } : null;
      },
    });
  }

  /** True once the shared list was read at least once: before that a revoked token could pass. */
  get loaded(): boolean {
    return this.set.loaded;
  }

  get size(): number {
    return this.set.size;
  }

  has(jti: string): boolean {
    return this.set.until(jti) !== undefined;
  }

  /**
   * Revokes a token until `exp` (+ skew) on every Gateway. This Gateway refuses it at once; the
   * others when the message arrives (or at their next reload). Throws TokenStoreUnavailable when
   * Redis cannot take it, so the caller can ask the client to retry.
   */
  async revoke(jti: string, exp: number): Promise<void> {
    if (!REVOCABLE_JTI.test(jti) || !Number.isSafeInteger(exp)) return;
    try {
      await this.set.add(jti, exp + this.retain);
    } catch (err) {
      throw new TokenStoreUnavailable(err);
    }
  }

  /** Subscribes and loads now (or as soon as the subscriber connects), and again after every reconnect. */
  start(): void {
    this.set.start();
  }

  stop(): void {
    this.set.stop();
  }

  /** Reads the whole shared list into memory (what is still in force). */
  load(): Promise<void> {
    return this.set.load();
  }
}
