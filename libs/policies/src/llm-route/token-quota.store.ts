/** One token budget a call is counted in: a calendar window of one credential or project. */
export interface TokenCounter {
  readonly key: string;
  readonly limit: number;
  /** End of the window, epoch ms. */
  readonly windowEnd: number;
}

export type TokenReservation =
  | { readonly admitted: true }
  /** `left`: tokens the refusing counter had left (0: used up; more: this call's estimate does not fit). */
  | { readonly admitted: false; readonly index: number; readonly left: number };

/**
 * Token counters shared by every Gateway. A call reserves its estimate before it goes upstream
 * (refused when a counter is used up or the estimate does not fit what is left), and settles the
 * difference to what it really cost when its answer is complete; so concurrent calls cannot all
 * spend the same remainder, and each counter ends at exactly the tokens spent. Rejects when the
 * store cannot answer.
 */
export interface TokenQuotaStore {
  reserve(counters: readonly TokenCounter[], tokens: number, now: number): Promise<TokenReservation>;
  /** Adds `delta` (negative: the call cost less than reserved) to counters whose window has not been dropped. */
  settle(counters: readonly TokenCounter[], delta: number, now: number): Promise<void>;
}
