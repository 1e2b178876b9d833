import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The bearer tokens of dynamic registration: initial access tokens (`iat_…`, issued by an
 * operator) and registration access tokens (`rat_…`, issued to a registered client). 32 random
 * bytes each, so a SHA-256 is all that needs storing (nothing to brute-force, unlike a password).
 */
export function newToken(kind: 'iat' | 'rat'): { token: string; prefix: string; hash: string } {
  const prefix = `${kind}_${randomBytes(6).toString('base64url')}`;
  const token = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { token, prefix, hash: tokenHash(token) };
}

export const tokenHash = (token: string): string => hash('sha256', token, 'hex');

/** Compared in constant time: a registration access token is checked against the client's one stored hash. */
export function sameHash(stored: string, presented: string): boolean {
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(tokenHash(presented), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A client secret: shown once in the registration response, stored as an argon2 hash like any credential password. */
export const newClientSecret = (): string => randomBytes(32).toString('base64url');
