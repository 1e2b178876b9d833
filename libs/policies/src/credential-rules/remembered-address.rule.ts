import type { PolicyRejection } from '../policy';

/** A rule that judges a request by its client address alone. */
export interface AddressRule {
  check(clientIp: string): PolicyRejection | undefined;
}

/**
 * Remembers an address rule's verdict per client address. Matching an address against CIDR
 * lists (node:net's BlockList builds a SocketAddress object per call) or the GeoIP tree costs
 * several microseconds, a visible share of a proxied request, while a credential's callers come
 * from few addresses. The rule is compiled per revision, so a changed rule starts with no
 * memory. Bounded: when full it starts over, so many distinct addresses cost what no memory
 * costs and never more memory.
 */
export class RememberedAddressRule implements AddressRule {
  private readonly verdicts = new Map<string, PolicyRejection | null>();

  constructor(
    private readonly rule: AddressRule,
    private readonly capacity = 4096,
  ) {}

  check(clientIp: string): PolicyRejection | undefined {
    const known = this.verdicts.get(clientIp);
    if (known !== undefined) return known ?? undefined;
    const verdict = this.rule.check(clientIp);
    if (this.verdicts.size >= this.capacity) this.verdicts.clear();
    this.verdicts.set(clientIp, verdict ?? null);
    return verdict;
  }
}
