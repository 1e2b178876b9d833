import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { OAuthError } from '@idm/tokens';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';
import { ClientIpResolver, peerOrForwardedIp } from '../proxy/client-ip';
import type { TokenServiceOptions } from './token-endpoints';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';

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
  realm: string;
  clientId: string;
  /** Set for a password grant: its resource owner's username. */
  username?: string;
  address: string;
}

/**
 * Failure limits of the token endpoints, shared by every Gateway through Redis
 * (rate-limiter-flexible's RateLimiterRedis; per Gateway in memory while Redis is away). Wrong
 * client secrets count against the client id and the address, wrong resource-owner passwords
 * against that owner and the address. Checked before any secret is verified (argon2 is the
 * expensive part), so a refused guess costs one Redis round trip and learns nothing; successes
 * never count. A success does not clear a count either: otherwise the real client's traffic
 * would keep resetting an attacker's budget against it.
 */
export class TokenFailureLimits {
  private readonly perAccount: RateLimiterAbstract;
  private readonly perAddress: RateLimiterAbstract;

  constructor(private readonly redis: Redis, keyPrefix: string, settings: TokenFailureLimitSettings, private readonly log: Logger) {
    const limiter = (name: string, points: number) => {
      const options = { keyPrefix: `${keyPrefix}:${name}`, points, duration: settings.windowSeconds, blockDuration: settings.windowSeconds };
      return new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) });
    };
    this.perAccount = limiter('account', settings.perAccount);
    this.perAddress = limiter('address', settings.perAddress);
  }

  /**
   * Throws 429 `slow_down` with Retry-After while the client, the owner or the address must wait.
   * Every token call runs this, so the common case is one MGET of the counters (the limiter's own
   * keys, `getKey`); only a counter at its limit is asked how long it still waits. With Redis
   * away, the limiters answer from their in-memory insurance.
   */
  async check(subject: FailureSubject): Promise<void> {
    const checks: [RateLimiterAbstract, string][] = [[this.perAccount, clientKey(subject)], [this.perAddress, subject.address]];
    if (subject.username !== undefined) checks.push([this.perAccount, ownerKey(subject, subject.username)]);
    const counted = await this.redis.mget(checks.map(([limiter, key]) => limiter.getKey(key))).catch(() => null);
    const exhausted = counted === null ? checks : checks.filter(([limiter], i) => Number(counted[i]) >= limiter.points);
    if (exhausted.length === 0) return;
    const waits = (await Promise.all(exhausted.map(([limiter, key]) => limiter.get(key)))).map(blockedFor);
    const longest = Math.max(...waits);
    if (longest === 0) return;
    const seconds = Math.ceil(longest / 1000);
    throw new OAuthError('slow_down', `too many failed attempts, try again in ${seconds} seconds`, 429, seconds);
  }

  clientFailed(subject: FailureSubject): Promise<void> {
    return this.count(clientKey(subject), subject.address);
  }

  ownerFailed(subject: FailureSubject): Promise<void> {
    return subject.username === undefined ? Promise.resolve() : this.count(ownerKey(subject, subject.username), subject.address);
  }

  private async count(accountKey: string, address: string): Promise<void> {
    // Consuming past the limit rejects with the wait that starts now: nothing to handle. Only a
    // store error (Redis and the insurance both failing) is worth a line in the log.
    const consume = (limiter: RateLimiterAbstract, key: string) =>
      limiter.consume(key).catch((err: unknown) => {
        if (err instanceof Error) this.log.warn({ err: { message: err.message } }, 'token failure could not be counted');
      });
    await Promise.all([consume(this.perAccount, accountKey), consume(this.perAddress, address)]);
  }
}

const clientKey = (s: FailureSubject) => bounded(`${s.realm}:client:${s.clientId}`);
const ownerKey = (s: FailureSubject, username: string) => bounded(`${s.realm}:owner:${s.clientId}\u0000${username}`);
/** Ids and usernames come from the caller: a long one is hashed so a key stays small in Redis. */
const bounded = (key: string) => (key.length <= 256 ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`);

function blockedFor(res: RateLimiterRes | null): number {
  return res !== null && res.remainingPoints <= 0 ? Math.max(res.msBeforeNext, 1) : 0;
}

/**
 * The token service's failure limits as configured, with the caller's address read the way the
 * proxy path reads it: a forwarded-for header only from a trusted hop, so a client cannot pick
 * a fresh address per guess.
 */
export function configuredFailureLimits(config: GatewayConfig, redis: Redis, log: Logger): NonNullable<TokenServiceOptions['failures']> {
  const limits = new TokenFailureLimits(redis, `idm:token-failures:${config.environment}`, config.tokenFailureLimits, log);
  const resolver = config.clientIp.header === null ? null : new ClientIpResolver(config.clientIp);
  const addressOf = (peer: string, headers: IncomingHttpHeaders) => (resolver === null ? peerOrForwardedIp(peer, headers, config.trustProxy) : resolver.resolve(peer, headers));
  return { limits, addressOf };
}
