/**
 * What one Gateway holds of a fixed-window counter (a fixed-window limit or a quota period): the
 * admissions Redis granted it in advance and not used yet. Redis has already counted them, so
 * spending them needs no round trip and no Gateway can push the window past its limit.
 */
export interface Lease {
  /** Admissions granted to this Gateway and not used yet. */
  left: number;
  /**
   * What Redis had left after its latest answer for this counter. Other Gateways may have taken
   * some since, so it only ever overstates; 0 is exact: a fixed window's count never goes down.
   */
  redisRemaining: number;
  /** The limit the lease was granted under; a revision with another limit ignores it. */
  readonly limit: number;
  /** Epoch ms; the counter's key names the window, so the lease is dead afterwards. */
  readonly windowEnd: number;
}

/** Below this many leases nothing is swept: a Gateway with few counters never walks the map. */
const SWEEP_FLOOR = 1024;

/** The leases of one Gateway, keyed by counter key. Memory stays at most twice the live leases. */
export class FixedWindowLeases {
  private readonly byKey = new Map<string, Lease>();
  private sweepAbove = SWEEP_FLOOR;

  /** The lease held for this counter under this limit; one granted under another limit does not count. */
  find(key: string, limit: number): Lease | undefined {
    const lease = this.byKey.get(key);
    return lease !== undefined && lease.limit === limit ? lease : undefined;
  }

  /** Adds what Redis granted with a request (which takes one of it) and what Redis has left. */
  granted(key: string, limit: number, windowEnd: number, grant: number, redisRemaining: number, now: number): Lease {
    const lease = this.find(key, limit) ?? this.add(key, limit, windowEnd, now);
    lease.left += grant - 1;
    // Answers of one connection arrive in order, but min() keeps this right whatever the order.
    lease.redisRemaining = Math.min(lease.redisRemaining, redisRemaining);
    return lease;
  }

  /** Redis refused: the counter stays used up until its window ends. What is left here stays usable. */
  exhausted(key: string, limit: number, windowEnd: number, now: number): void {
    (this.find(key, limit) ?? this.add(key, limit, windowEnd, now)).redisRemaining = 0;
  }

  private add(key: string, limit: number, windowEnd: number, now: number): Lease {
    const lease: Lease = { left: 0, redisRemaining: Number.MAX_SAFE_INTEGER, limit, windowEnd };
    this.byKey.set(key, lease);
    if (this.byKey.size > this.sweepAbove) this.sweep(now);
    return lease;
  }

  /** Drops leases of ended windows; runs again only once the map has doubled (amortized O(1)). */
  private sweep(now: number): void {
    for (const [key, lease] of this.byKey) if (lease.windowEnd <= now) this.byKey.delete(key);
    this.sweepAbove = Math.max(SWEEP_FLOOR, 2 * this.byKey.size);
  }
}
