import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9) without shared state: a nonce names a time
 * window and carries an HMAC of it under a key every Gateway of the installation derives alike,
 * so any Gateway accepts what another handed out. All Gateways hand out the same nonce within a
 * window; the current and the previous window are accepted, so a nonce lives between one and two
 * windows and a client that just got one never sees it refused.
 */
export class DpopNonces {
  constructor(
    private readonly key: Buffer,
    private readonly windowSeconds = 300,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The nonce to hand out now (`DPoP-Nonce`). */
  current(): string {
    return this.nonceOf(this.windowAt(this.clock()));
  }

  isValid(nonce: unknown): boolean {
    if (typeof nonce !== 'string' || nonce.length > 64) return false;
    const dot = nonce.indexOf('.');
    const window = dot > 0 ? Number.parseInt(nonce.slice(0, dot), 36) : NaN;
    const now = this.windowAt(this.clock());
    if (!(window === now || window === now - 1)) return false;
    const expected = Buffer.from(this.nonceOf(window));
    const given = Buffer.from(nonce);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private windowAt(ms: number): number {
    return Math.floor(ms / 1000 / this.windowSeconds);
  }

  private nonceOf(window: number): string {
    const label = window.toString(36);
    return `${label}.${createHmac('sha256', this.key).update(`dpop-nonce:${label}`).digest('base64url').slice(0, 32)}`;
  }
}
