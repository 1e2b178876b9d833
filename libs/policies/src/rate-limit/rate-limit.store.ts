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
  /** Requests left in that counter after this one (may be an estimate, see the store). */
  readonly remaining: number;
  /** Milliseconds until that counter admits again (refused) or resets (allowed). */
  readonly resetMs: number;
}

/**
 * Checks every counter and, only when all have room, counts the request in all of them, so any
 * number of Gateways share exact limits. Answers synchronously when it can decide from what this
 * Gateway already holds (no round trip); otherwise the promise settles after at most one round
 * trip, and rejects when the store cannot answer.
 */
export interface RateLimitStore {
  consume(counters: readonly RateLimitCounter[], now: number): RateLimitVerdict | Promise<RateLimitVerdict>;
}
