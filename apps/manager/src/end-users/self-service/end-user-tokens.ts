import { createHash, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';

export type EndUserTokenPurpose = 'verify-email' | 'reset-password';

/** How long each kind of link works: a day to confirm an address, half an hour to reset a password (OWASP's reset guidance). */
export const TOKEN_TTL_SECONDS: Record<EndUserTokenPurpose, number> = { 'verify-email': 24 * 3600, 'reset-password': 30 * 60 };

export interface EndUserTokenClaim {
  purpose: EndUserTokenPurpose;
  projectId: string;
  credentialId: string;
  /** The address the mail went to: a verification only counts while the user still has it. */
  email: string;
}

const keyOf = (token: string) => `{idm:eu-token}:${createHash('sha256').update(token).digest('hex')}`;

/**
 * Single-use, expiring mail tokens. The token is 32 random bytes (base64url) that only the mail
 * carries; Redis holds its SHA-256 (a leaked store gives no usable link) with the claim and a TTL
 * (expiry). Consuming is GETDEL: of two concurrent uses exactly one gets the claim. The claim
 * names purpose and project, so a reset token does not verify an email and one project's token
 * does nothing in another. Runtime state, not configuration: a lost token is asked for again.
 */
export class EndUserTokens {
  constructor(private readonly redis: Redis) {}

  async issue(claim: EndUserTokenClaim): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const ttl = TOKEN_TTL_SECONDS[claim.purpose];
    await this.redis.set(keyOf(token), JSON.stringify(claim), 'EX', ttl);
    return { token, expiresAt: new Date(Date.now() + ttl * 1000) };
  }

  /** The claim when the token is live, of this purpose and project; the token is gone afterwards either way. */
  async consume(token: string, purpose: EndUserTokenPurpose, projectId: string): Promise<EndUserTokenClaim | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const raw = await this.redis.getdel(keyOf(token));
    if (!raw) return null;
    const claim = JSON.parse(raw) as EndUserTokenClaim;
    return claim.purpose === purpose && claim.projectId === projectId ? claim : null;
  }
}
