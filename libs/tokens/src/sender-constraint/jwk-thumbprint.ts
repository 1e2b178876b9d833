import { createHash } from 'node:crypto';

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the required members of its key
 * type, in lexicographic order, without whitespace. DPoP's `cnf.jkt` (RFC 9449 §6.1). Written
 * here rather than taken from jose because jose is ESM-only and the Gateway runs as CommonJS;
 * the spec checks it against jose's `calculateJwkThumbprint`. Null for a key type DPoP cannot use.
 */
export function jwkThumbprint(jwk: Record<string, unknown>): string | null {
  const members = REQUIRED[jwk.kty as string];
  if (members === undefined) return null;
  const canonical: Record<string, unknown> = {};
  for (const name of members) {
    if (typeof jwk[name] !== 'string') return null;
    canonical[name] = jwk[name];
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

// Already in lexicographic order, so JSON.stringify of an object built in this order is canonical.
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};
