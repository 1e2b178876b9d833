import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { ProblemError } from '../problems/problem.error';

/**
 * At most `limit` counted events per key within `windowSeconds`; once reached, the key waits
 * `windowSeconds` from the last one (rate-limiter-flexible, in memory: per Manager process, see
 * docs/architecture.md). `enforce` is separate from `count` so a caller can refuse before doing
 * the work and count only what should count (a failure, a created request).
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
    return blockedFor(await this.limiter.get(key));
  }

  async count(key: string): Promise<void> {
    // Consuming past the limit rejects (that is the wait starting): nothing to handle here.
    await this.limiter.consume(key).catch(() => undefined);
  }

  async clear(key: string): Promise<void> {
    await this.limiter.delete(key);
  }

  /** The 429 problem for a wait of `waitMs`, with Retry-After. */
  refuse(waitMs: number): ProblemError {
    const seconds = Math.ceil(waitMs / 1000);
    return new ProblemError(429, this.refusal.code, this.refusal.title, `try again in ${seconds} seconds`, undefined, { retryAfterSeconds: seconds }, { 'retry-after': String(seconds) });
  }

  /** Throws the 429 problem while any of `checks` must wait. */
  static async enforce(...checks: [CountedLimit, string][]): Promise<void> {
    const waits = await Promise.all(checks.map(([limit, key]) => limit.waitMs(key)));
    const longest = Math.max(0, ...waits);
    if (longest > 0) throw checks[waits.indexOf(longest)][0].refuse(longest);
  }
}

function blockedFor(res: RateLimiterRes | null): number {
  return res !== null && res.remainingPoints <= 0 ? Math.max(res.msBeforeNext, 1) : 0;
}
