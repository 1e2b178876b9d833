import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeJsonObject, isSigningAlgorithm, jwsVerify, keyMismatch, OAuthError, splitCompactJws } from '@idm/tokens';
import type { OidcClient } from './authorization-request';
import type { ClientKeyLookup } from './client-key-sets';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const MAX_ASSERTION_LENGTH = 8192;
const SKEW_SECONDS = 30;
/** An assertion is a one-time proof: one valid for longer than this is refused (and its jti kept as long). */
const MAX_LIFETIME_SECONDS = 600;

/** The client an assertion claims to be (`sub`, unverified): only to find whose keys verify it. */
export function assertedClientId(assertion: string | null): string | null {
  const jws = splitCompactJws(assertion, MAX_ASSERTION_LENGTH);
  const claims = jws ? decodeJsonObject(jws.payloadSegment) : null;
  return typeof claims?.sub === 'string' ? claims.sub : null;
}

/** The `kid` of an assertion's header (unverified): which key of the client's `jwksUri` to look up; null without one. */
export function assertionKid(assertion: string): string | null {
  const kid = splitCompactJws(assertion, MAX_ASSERTION_LENGTH)?.header.kid;
  return typeof kid === 'string' && kid.length > 0 && kid.length <= 200 ? kid : null;
}

/** True when the client's inline keys hold one named `kid` (its `jwksUri` is then not asked). */
export function inlineKeyNamed(client: OidcClient, kid: string | null): boolean {
  return kid !== null && (client.settings.oidc.jwks?.keys ?? []).some((jwk) => jwk.kid === kid);
}

/**
 * Verifies a `private_key_jwt` client assertion (RFC 7523 §3, OIDC Core §9): signed by one of
 * the client's registered public keys with an asymmetric algorithm (never `none` or HMAC), `iss`
 * and `sub` the client, `aud` the token endpoint or the issuer, `exp` soon, a `jti` to remember.
 * Every refusal is `invalid_client`; the description says which rule failed.
 */
export function verifyClientAssertion(
  assertion: string,
  client: OidcClient,
  audiences: readonly string[],
  now: number,
  /** The key the client's `jwksUri` holds for the header's `kid` (looked up by the caller); absent: inline keys only. */
  remote: ClientKeyLookup = { key: undefined, unavailable: false },
): { jti: string; ttlSeconds: number } {
  const fail = (why: string) => new OAuthError('invalid_client', `client assertion: ${why}`, 401);
  const jws = splitCompactJws(assertion, MAX_ASSERTION_LENGTH);
  if (!jws) throw fail('not a compact JWS');
  const alg = jws.header.alg;
  if (!isSigningAlgorithm(alg)) throw fail('alg must be an asymmetric signature algorithm');
  const kid = jws.header.kid;
  const candidates = (client.settings.oidc.jwks?.keys ?? []).filter((jwk) => (kid === undefined || jwk.kid === kid) && (jwk.alg === undefined || jwk.alg === alg));
  const verifies = (key: KeyObject | null) => key !== null && keyMismatch(key, alg) === null && jwsVerify(alg, Buffer.from(jws.signingInput), jws.signature, key);
  const fromUri = remote.key !== undefined && (remote.key.alg === undefined || remote.key.alg === alg) && verifies(remote.key.key);
  if (!fromUri && !candidates.some((jwk) => verifies(importKey(jwk)))) {
    // Our fetch failed, not the client: no lockout count, and the client may try again.
    if (remote.unavailable) throw new OAuthError('temporarily_unavailable', "client assertion: the client's jwks_uri could not be fetched; try again later", 503);
    throw fail(client.settings.oidc.jwksUri ? 'not signed by a key registered for this client (keys from jwks_uri need a kid)' : 'not signed by a key registered for this client');
  }
  const claims = decodeJsonObject(jws.payloadSegment);
  if (!claims) throw fail('the payload is not a JSON object');
  const ids = new Set([client.credential.id, client.credential.username]);
  if (typeof claims.iss !== 'string' || claims.iss !== claims.sub || !ids.has(claims.iss)) throw fail('iss and sub must both be the client_id');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => typeof a === 'string' && audiences.includes(a))) throw fail('aud must be the token endpoint or the issuer');
  const seconds = Math.floor(now / 1000);
  if (typeof claims.exp !== 'number' || claims.exp + SKEW_SECONDS < seconds) throw fail('expired or without exp');
  if (claims.exp - seconds > MAX_LIFETIME_SECONDS) throw fail(`exp must be within ${MAX_LIFETIME_SECONDS} seconds`);
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf - SKEW_SECONDS > seconds)) throw fail('not valid yet');
  if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > 256) throw fail('jti is required');
  return { jti: claims.jti, ttlSeconds: Math.max(claims.exp - seconds, 0) + SKEW_SECONDS };
}

function importKey(jwk: Record<string, unknown>): KeyObject | null {
  try {
    return createPublicKey({ key: jwk as never, format: 'jwk' });
  } catch {
    return null;
  }
}
