import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ProblemError } from '../problems/problem.error';

/**
 * At most `limit` counted events per key within `windowSeconds`; once exceeded, the key waits
 * `windowSeconds` (rate-limiter-flexible, in memory: per Manager process, see
 * docs/architecture.md).
 *
 * Callers reserve a point before the work and refund it when the outcome should not count (a
 * successful login, a poll that found its request). Reserving is one synchronous increment in the
 * limiter's store, so N concurrent attempts can never all pass a check made before any of them
 * was counted: the (limit+1)th is refused however many run at once.
 */
export class CountedLimit {
  private readonly limiter: RateLimiterMemory;

  constructor(
    name: string,
    limit: number,
    windowSeconds: number,
    private readonly refusal: { code: string; title: string },
  ) {
    this.limiter = new RateLimiterMemory({ keyPrefix: name, points: limit, duration: windowSeconds, blockDuration: windowSeconds });
  }

  /** Milliseconds `key` must still wait (0: go ahead). */
  async waitMs(key: string): Promise<number> {
    const res = await this.limiter.get(key);
    return res !== null && res.remainingPoints <= 0 ? Math.max(res.msBeforeNext, 1) : 0;
  }

  async clear(key: string): Promise<void> {
    await this.limiter.delete(key);
  }

  /** The 429 problem for a wait of `waitMs`, with Retry-After. */
  refuse(waitMs: number): ProblemError {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new ProblemError(
      429,
      this.refusal.code,
      this.refusal.title,
      `try again in ${seconds} seconds`,
      undefined,
      { retryAfterSeconds: seconds },
      { 'retry-after': String(seconds) },
    );
  }

  /**
   * Counts one attempt against every check, or throws the 429 of the longest wait if any is used
   * up (then the checks that did admit it are refunded: a refused attempt counts nowhere).
   * A refused point is never refunded: that would bring the key back to its limit, and the next
   * attempt would start a fresh block instead of waiting out the current one.
   */
  static async reserve(...checks: [CountedLimit, string][]): Promise<Reservation> {
    const outcomes = await Promise.allSettled(checks.map(([limit, key]) => limit.limiter.consume(key)));
    let refused: { limit: CountedLimit; waitMs: number } | undefined;
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') return;
      if (!(outcome.reason instanceof RateLimiterRes)) throw outcome.reason;
      const waitMs = Math.max(outcome.reason.msBeforeNext, 1);
      if (!refused || waitMs > refused.waitMs) refused = { limit: checks[i][0], waitMs };
    });
    const admitted = checks.filter((_, i) => outcomes[i].status === 'fulfilled');
    const reservation = new Reservation(admitted);
    if (!refused) return reservation;
    await reservation.refund();
    throw refused.limit.refuse(refused.waitMs);
  }

  /** Gives one reserved point back (see Reservation.refund). */
  async rewardOne(key: string): Promise<void> {
    await this.limiter.reward(key, 1);
  }
}

/** Points taken by CountedLimit.reserve; refund them when the attempt turned out not to count. */
export class Reservation {
  private refunded = false;

  constructor(private readonly checks: [CountedLimit, string][]) {}

  async refund(): Promise<void> {
    if (this.refunded) return;
    this.refunded = true;
    await Promise.all(this.checks.map(([limit, key]) => limit.rewardOne(key)));
  }
}
