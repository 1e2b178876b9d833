/**
 * Remembers the highest nonce count seen per nonce, shared by every Gateway of the environment.
 * `advance` resolves true when `nc` is higher than anything seen for this nonce (and records
 * it), false for a replay or a count that went backwards.
 */
export interface DigestNonceStore {
  advance(nonce: string, nc: number, ttlMs: number): Promise<boolean>;
}

/** For a single process (tests, a lone Gateway without Redis); bounded like a cache. */
export class InMemoryDigestNonceStore implements DigestNonceStore {
  private readonly seen = new Map<string, { nc: number; until: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 100_000,
  ) {}

  async advance(nonce: string, nc: number, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const entry = this.seen.get(nonce);
    if (entry && entry.until > now && entry.nc >= nc) return false;
    this.seen.delete(nonce);
    this.seen.set(nonce, { nc, until: now + ttlMs });
    if (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }
}
