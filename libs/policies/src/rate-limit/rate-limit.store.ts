/**
 * One counter a request must fit into. Fixed windows are aligned (the key names the window), so
 * the caller computes the window; sliding windows keep a log of admissions of the last window.
 */
export interface RateLimitCounter {
  readonly key: string;
  readonly limit: number;
  /** fixed: when the window ends (epoch ms); sliding: the window length (ms). */
  readonly window: number;
  readonly sliding: boolean;
}

export interface RateLimitVerdict {
  readonly allowed: boolean;
  /** The counter that refused, or (when allowed) the one with the fewest requests left. */
  readonly index: number;
  /** Requests left in that counter after this one. */
  readonly remaining: number;
  /** Milliseconds until that counter admits again (refused) or resets (allowed). */
  readonly resetMs: number;
}

/**
 * Checks every counter and, only when all have room, counts the request in all of them:
 * atomically and in one round trip, so any number of Gateways share exact limits.
 * Rejects (the promise) when the store cannot answer.
 */
export interface RateLimitStore {
  consume(counters: readonly RateLimitCounter[], now: number): Promise<RateLimitVerdict>;
}
