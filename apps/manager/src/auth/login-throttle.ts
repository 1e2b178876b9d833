import { Injectable } from '@nestjs/common';
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { ProblemError } from '../problems/problem.error';

/** Failed logins of one username from one address before that pair waits. */
export const FAILURES_PER_USER_AND_ADDRESS = 10;
/** Failed logins from one address, any username, before it waits. */
export const FAILURES_PER_ADDRESS = 100;

/**
 * Slows password guessing at operator login (rate-limiter-flexible, in memory: the Manager runs
 * as one instance, see docs/architecture.md). Counted per username and client address, so an
 * attacker cannot lock the real operator out from elsewhere, and per address across usernames,
 * so spraying many usernames from one place stops too. Refused attempts are checked before the
 * password is, so a blocked guess learns nothing; a successful login clears its pair's count.
 */
@Injectable()
export class LoginThrottle {
  private readonly perUserAndAddress = new RateLimiterMemory({ keyPrefix: 'login-user-ip', points: FAILURES_PER_USER_AND_ADDRESS, duration: 15 * 60, blockDuration: 15 * 60 });
  private readonly perAddress = new RateLimiterMemory({ keyPrefix: 'login-ip', points: FAILURES_PER_ADDRESS, duration: 24 * 3600, blockDuration: 24 * 3600 });

  /** Throws 429 `too_many_login_attempts` (with Retry-After) while this attempt must wait. */
  async check(username: string, address: string): Promise<void> {
    const [pair, all] = await Promise.all([this.perUserAndAddress.get(pairKey(username, address)), this.perAddress.get(address)]);
    const waitMs = Math.max(blockedFor(pair), blockedFor(all));
    if (waitMs === 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    throw new ProblemError(429, 'too_many_login_attempts', 'Too many failed logins', `try again in ${seconds} seconds`, undefined, { retryAfterSeconds: seconds }, { 'retry-after': String(seconds) });
  }

  async failed(username: string, address: string): Promise<void> {
    // Consuming past the limit rejects (that is the block starting): nothing to handle here.
    await Promise.all([this.perUserAndAddress.consume(pairKey(username, address)).catch(() => undefined), this.perAddress.consume(address).catch(() => undefined)]);
  }

  async succeeded(username: string, address: string): Promise<void> {
    await this.perUserAndAddress.delete(pairKey(username, address));
  }
}

const pairKey = (username: string, address: string) => `${username.toLowerCase()}\u0000${address}`;

function blockedFor(res: RateLimiterRes | null): number {
  return res !== null && res.remainingPoints <= 0 ? Math.max(res.msBeforeNext, 1) : 0;
}
