import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Stateless server nonces: issue time + random, HMAC-signed with a key every Gateway of the
 * installation derives from the master key, so a nonce issued by one Gateway is accepted by
 * another without shared state. Expiry is checked from the signed issue time; replay (a nonce
 * count that does not increase) is what the shared nonce store tracks.
 */
export class DigestNonces {
  constructor(
    private readonly key: Buffer,
    private readonly lifetimeMs: number,
  ) {}

  issue(now: number): string {
    const payload = Buffer.alloc(20);
    payload.writeUIntBE(Math.floor(now / 1000), 0, 6);
    randomBytes(14).copy(payload, 6);
    return Buffer.concat([payload, this.mac(payload)]).toString('base64url');
  }

  /** 'ok' (with the ms it stays valid), 'invalid' (not ours / tampered) or 'expired' (ours but old). */
  check(nonce: string, now: number): { state: 'ok'; remainingMs: number } | { state: 'invalid' | 'expired' } {
    if (nonce.length !== 48 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { state: 'invalid' };
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 36) return { state: 'invalid' };
    const payload = raw.subarray(0, 20);
    if (!timingSafeEqual(raw.subarray(20), this.mac(payload))) return { state: 'invalid' };
    const issuedMs = payload.readUIntBE(0, 6) * 1000;
    const remainingMs = issuedMs + this.lifetimeMs - now;
    // A nonce from the future means clocks of Gateways disagree by more than a second or forgery.
    if (issuedMs > now + 60_000) return { state: 'invalid' };
    return remainingMs > 0 ? { state: 'ok', remainingMs } : { state: 'expired' };
  }

  /** Fixed per proxy; the client echoes it, a mismatch means the response was not made for this proxy. */
  opaqueFor(proxyId: string): string {
    return createHmac('sha256', this.key).update(`opaque\u0000${proxyId}`).digest('base64url').slice(0, 22);
  }

  private mac(payload: Buffer): Buffer {
    return createHmac('sha256', this.key).update(payload).digest().subarray(0, 16);
  }
}
