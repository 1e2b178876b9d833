import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { OAuthError, SharedExpiringSet } from '@idm/tokens';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { OnApplicationShutdown } from '@nestjs/common';
import type { GatewayConfig } from '../config/gateway-config';
import { createFailFastRedis } from '../config/fail-fast-redis';
import { ClientIpResolver, peerOrForwardedIp } from '../http/client-ip';
import type { TokenServiceOptions } from './token-endpoints';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface TokenFailureLimitSettings {
  /** Failed secrets per account (a client id, or a resource owner of a client) per window. */
  perAccount: number;
  /** Failed secrets per client address, across accounts, per window. */
  perAddress: number;
  /** Counting window, and how long a key waits once it reached its limit. */
  windowSeconds: number;
}

/** Who is guessing what: the presented client id, the resource owner (password grant) and the caller's address. */
export interface FailureSubject {
  surface: string;
  clientId: string;
  /** Set for a password grant: its resource owner's username. */
  username?: string;
  address: string;
}

/**
 * Failure limits of the token endpoints, shared by every Gateway through Redis. Wrong client
 * secrets count against the client id and the address, wrong resource-owner passwords against
 * that owner and the address (rate-limiter-flexible's RateLimiterRedis; per Gateway in memory
 * while Redis is away). Successes never count, and do not clear a count either: otherwise the
 * real client's traffic would keep resetting an attacker's budget against it.
 *
 * The check runs on every token call before any secret is verified (argon2 is the expensive
 * part), so it costs no Redis round trip: the failure that brings a key to its limit records
 * "blocked until" in a SharedExpiringSet (sorted set `<prefix>:blocked`, epoch ms, published on
 * `<prefix>:blocked:events`), and every Gateway mirrors that set in memory (loaded at start and
 * after each reconnect of its subscriber, pruned by time). A refused guess costs a Map lookup
 * and learns nothing. A block this Gateway counted while Redis is away stays local to it.
 */
export class TokenFailureLimits {
  private readonly perAccount: RateLimiterAbstract;
  private readonly perAddress: RateLimiterAbstract;
  private readonly blocked: SharedExpiringSet;
  private readonly clock: () => number;
  private reported = 0;

  /** `subscriber` is a connection of its own for the block messages; neither connection is closed here. */
  constructor(
    redis: Redis,
    subscriber: Redis,
    keyPrefix: string,
    settings: TokenFailureLimitSettings,
    private readonly log: Logger,
    clock: () => number = Date.now,
  ) {
    const limiter = (name: string, points: number) => {
      const options = { keyPrefix: `${keyPrefix}:${name}`, points, duration: settings.windowSeconds, blockDuration: settings.windowSeconds };
      return new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) });
    };
    this.perAccount = limiter('account', settings.perAccount);
    this.perAddress = limiter('address', settings.perAddress);
    this.clock = clock;
    this.blocked = new SharedExpiringSet(redis, subscriber, {
      key: `${keyPrefix}:blocked`,
      unit: 'milliseconds',
      clock,
      parse: parseBlock,
      onError: (err) => this.warn(err, 'token failure blocks could not be loaded; retrying'),
    });
  }

  /** True once the shared blocks were read at least once. */
  get loaded(): boolean {
    return this.blocked.loaded;
  }

  /** Blocks held in memory (ended ones until the next prune). */
  get blockCount(): number {
    return this.blocked.size;
  }

  /** Subscribes to the blocks and loads them, again after every reconnect. */
  start(): void {
    this.blocked.start();
  }

  stop(): void {
    this.blocked.stop();
  }

  /** Drops the blocks that ended (also done every minute). */
  prune(): void {
    this.blocked.prune();
  }

  /** Throws 429 `slow_down` with Retry-After while the client, the owner or the address must wait. In memory only. */
  check(subject: FailureSubject): void {
    const now = this.clock();
    let until = Math.max(this.blockedUntil(ACCOUNT, clientKey(subject)), this.blockedUntil(ADDRESS, subject.address));
    if (subject.username !== undefined) until = Math.max(until, this.blockedUntil(ACCOUNT, ownerKey(subject, subject.username)));
    if (until <= now) return;
    const seconds = Math.ceil((until - now) / 1000);
    throw new OAuthError('slow_down', `too many failed attempts, try again in ${seconds} seconds`, 429, seconds);
  }

  clientFailed(subject: FailureSubject): Promise<void> {
    return this.count(clientKey(subject), subject.address);
  }

  ownerFailed(subject: FailureSubject): Promise<void> {
    return subject.username === undefined ? Promise.resolve() : this.count(ownerKey(subject, subject.username), subject.address);
  }

  private blockedUntil(kind: string, key: string): number {
    return this.blocked.until(`${kind}:${key}`) ?? 0;
  }

  private async count(accountKey: string, address: string): Promise<void> {
    // A consume that leaves no point (or rejects past the limit) starts a wait: shared as a block.
    // Only a store error (Redis and the insurance both failing) is worth a line in the log.
    const consume = async (limiter: RateLimiterAbstract, kind: string, key: string) => {
      let res: RateLimiterRes;
      try {
        res = await limiter.consume(key);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) {
          if (err instanceof Error) this.log.warn({ err: { message: err.message } }, 'token failure could not be counted');
          return;
        }
        res = err;
      }
      if (res.remainingPoints > 0) return;
      await this.blocked.add(`${kind}:${key}`, this.clock() + Math.max(res.msBeforeNext, 1)).catch((err: unknown) => this.warn(err, 'token failure block could not be shared'));
    };
    await Promise.all([consume(this.perAccount, ACCOUNT, accountKey), consume(this.perAddress, ADDRESS, address)]);
  }

  private warn(err: unknown, message: string): void {
    // Retried every second while Redis is away: one line per minute is enough.
    if (Date.now() - this.reported < 60_000) return;
    this.reported = Date.now();
    this.log.warn({ err: { message: (err as Error)?.message } }, message);
  }
}

const ACCOUNT = 'account';
const ADDRESS = 'address';

/** `<kind>:<key> <until ms>`: keys may hold spaces, the time is after the last one. */
function parseBlock(message: string): { member: string; until: number } | null {
  const space = message.lastIndexOf(' ');
  const until = message.slice(space + 1);
  if (space < 1 || !/^\d{1,15}$/.test(until)) return null;
  const member = message.slice(0, space);
  return member.startsWith(`${ACCOUNT}:`) || member.startsWith(`${ADDRESS}:`) ? { member, until: Number(until) } : null;
}

const clientKey = (s: FailureSubject) => bounded(`${s.surface}:client:${s.clientId}`);
const ownerKey = (s: FailureSubject, username: string) => bounded(`${s.surface}:owner:${s.clientId}\u0000${username}`);
/** Ids and usernames come from the caller: a long one is hashed so a key stays small in Redis. */
const bounded = (key: string) => (key.length <= 256 ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`);

/**
 * The token service's failure limits as configured, with the caller's address read the way the
 * proxy path reads it: a forwarded-for header only from a trusted hop, so a client cannot pick
 * a fresh address per guess. Holds the blocks' subscriber connection and closes it at shutdown.
 */
export class ConfiguredFailureLimits implements NonNullable<TokenServiceOptions['failures']>, OnApplicationShutdown {
  readonly limits: TokenFailureLimits;
  readonly addressOf: (peer: string, headers: IncomingHttpHeaders) => string;
  private readonly subscriber: Redis;

  constructor(config: GatewayConfig, redis: Redis, log: Logger) {
    this.subscriber = createFailFastRedis(config.redis, log, { name: 'idm-gateway-token-failure-blocks', maxRetriesPerRequest: 1 });
    this.limits = new TokenFailureLimits(redis, this.subscriber, `idm:token-failures:${config.environment}`, config.tokenFailureLimits, log);
    this.limits.start();
    const resolver = config.clientIp.header === null ? null : new ClientIpResolver(config.clientIp);
    this.addressOf = (peer, headers) => (resolver === null ? peerOrForwardedIp(peer, headers, config.trustProxy) : resolver.resolve(peer, headers));
  }

  async onApplicationShutdown(): Promise<void> {
    this.limits.stop();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}

export function configuredFailureLimits(config: GatewayConfig, redis: Redis, log: Logger): ConfiguredFailureLimits {
  return new ConfiguredFailureLimits(config, redis, log);
}
