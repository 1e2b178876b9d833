import type { JwtClaims } from './jwt-claims';
import { decodeJsonObject, splitCompactJws } from './compact-jws';
import { jwsVerify } from './jws-algorithm';
import type { SigningKeyRing } from './signing-key-ring';
import { TokenRejection, type TokenRejectionReason } from './token-rejection';
import { VerifiedTokenCache } from './verified-token-cache';

/**
 * Validates access tokens this product issued. The key ring decides the algorithm: the header's
 * `alg` must equal the algorithm pinned to the key named by `kid`, so `none`, HMAC with a public
 * key as secret and RS/PS/ES swaps all fail before any cryptography. The header's `typ` must say
 * access token (RFC 9068 §4: `at+jwt`), so an ID token or a plain JWT signed with the same key is
 * refused. Claim rules follow jose's (`exp <= now - skew` is expired, `nbf > now + skew` is not
 * yet valid) plus a future `iat` beyond the skew is refused, and a `jti` on the revocation list
 * is refused even when the token sits in the verified-token cache. Every failure is returned as
 * a TokenRejection, never thrown.
 */
export interface JwtVerifierOptions {
  /**
   * Accepted `iss` value(s), or a predicate for issuers that are only known as a pattern (without
   * a configured public URL the Gateway's issuer follows the request's Host; the caller then
   * compares the exact value itself).
   */
  issuer: string | readonly string[] | ((iss: string) => boolean);
  /** Revoked token ids (`jti`), consulted on every call, cached or not. Omitted: none are. */
  revoked?: RevokedTokenIds | null;
  /** Accepted `aud` value(s); the token must name at least one. Omitted: `aud` is not checked. */
  audience?: string | readonly string[];
  /** Tolerance for exp/nbf/iat between gateways' clocks. Default 30. */
  clockSkewSeconds?: number;
  /** Verified tokens kept in memory (LRU); 0 disables the cache. Default 10 000. */
  maxCacheEntries?: number;
  /** Longer tokens are refused before any parsing. Default 8 KiB. */
  maxTokenLength?: number;
  /** Epoch milliseconds; injectable for tests. */
  clock?: () => number;
}

/** The ids of revoked tokens; `has` runs on every verification, so it must be a memory lookup. */
export interface RevokedTokenIds {
  has(jti: string): boolean;
}

/** RFC 9068 §4: `at+jwt`, or its full media type; media types compare case-insensitively. */
export function isAccessTokenType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === 'at+jwt' || t === 'application/at+jwt';
}

export type JwtVerification = { readonly ok: true; readonly claims: Readonly<JwtClaims>; readonly kid: string } | { readonly ok: false; readonly rejection: TokenRejection };

const rejected = new Map<TokenRejectionReason, JwtVerification>();
function reject(reason: TokenRejectionReason): JwtVerification {
  let result = rejected.get(reason);
  if (!result) rejected.set(reason, (result = Object.freeze({ ok: false, rejection: TokenRejection.of(reason) })));
  return result;
}

export class JwtVerifier {
  private readonly acceptsIssuer: (iss: string) => boolean;
  private readonly audiences: ReadonlySet<string> | null;
  private readonly skew: number;
  private readonly maxTokenLength: number;
  private readonly clock: () => number;
  private readonly cache: VerifiedTokenCache;
  private readonly revoked: RevokedTokenIds | null;

  constructor(
    private keyRing: SigningKeyRing,
    options: JwtVerifierOptions,
  ) {
    const issuer = options.issuer;
    if (typeof issuer === 'function') this.acceptsIssuer = issuer;
    else {
      const issuers: ReadonlySet<string> = new Set(typeof issuer === 'string' ? [issuer] : issuer);
      this.acceptsIssuer = (iss) => issuers.has(iss);
    }
    this.audiences = options.audience === undefined ? null : new Set(typeof options.audience === 'string' ? [options.audience] : options.audience);
    this.skew = options.clockSkewSeconds ?? 30;
    this.maxTokenLength = options.maxTokenLength ?? 8192;
    this.clock = options.clock ?? Date.now;
    this.cache = new VerifiedTokenCache(options.maxCacheEntries ?? 10_000);
    this.revoked = options.revoked ?? null;
  }

  /** Swaps keys on a config revision; cached tokens re-verify unless their exact key is still published. */
  useKeyRing(keyRing: SigningKeyRing): void {
    this.keyRing = keyRing;
  }

  verify(token: string): JwtVerification {
    const now = this.clock();
    const cacheKey = typeof token === 'string' && token.length <= this.maxTokenLength ? VerifiedTokenCache.keyOf(token) : null;
    const cached = cacheKey ? this.cache.get(cacheKey) : undefined;
    if (cached && this.keyRing.verificationKey(cached.kid, now)?.key === cached.key) {
      const late = timeRejection(cached.claims, Math.floor(now / 1000), this.skew) ?? this.revocation(cached.claims);
      if (!late) return { ok: true, claims: cached.claims, kid: cached.kid };
      this.cache.delete(cacheKey!);
      return reject(late);
    }
    // An entry whose key left the ring (or changed with a new ring) is dropped and the token verified afresh.
    if (cached) this.cache.delete(cacheKey!);
    const result = this.verifyUncached(token, now);
    if (result.ok && this.revocation(result.claims)) return reject('revoked');
    if (result.ok && cacheKey) this.cache.set(cacheKey, { kid: result.kid, key: this.keyRing.verificationKey(result.kid, now)!.key, claims: result.claims });
    return result;
  }

  private verifyUncached(token: string, now: number): JwtVerification {
    const jws = splitCompactJws(token, this.maxTokenLength);
    if (!jws) return reject('malformed');
    const { alg, kid, crit, typ } = jws.header;
    // We implement no JWS extensions, so any `crit` must be refused (RFC 7515 §4.1.11).
    if (typeof alg !== 'string' || crit !== undefined) return reject('malformed');
    if (typeof kid !== 'string') return reject('unknown_kid');
    const pinned = this.keyRing.verificationKey(kid, now);
    if (!pinned) return reject('unknown_kid');
    if (alg !== pinned.algorithm) return reject('algorithm_not_allowed');
    if (!isAccessTokenType(typ)) return reject('wrong_type');
    if (!jwsVerify(pinned.algorithm, Buffer.from(jws.signingInput), jws.signature, pinned.key)) return reject('bad_signature');

    const claims = decodeJsonObject(jws.payloadSegment);
    if (!claims || !hasWellTypedClaims(claims)) return reject('malformed');
    const problem = timeRejection(claims, Math.floor(now / 1000), this.skew) ?? this.partyRejection(claims);
    if (problem) return reject(problem);
    return { ok: true, claims: deepFreeze(claims), kid };
  }

  private revocation(claims: Readonly<JwtClaims>): TokenRejectionReason | null {
    return this.revoked !== null && typeof claims.jti === 'string' && this.revoked.has(claims.jti) ? 'revoked' : null;
  }

  private partyRejection(claims: JwtClaims): TokenRejectionReason | null {
    if (typeof claims.iss !== 'string' || !this.acceptsIssuer(claims.iss)) return 'wrong_issuer';
    if (!this.audiences) return null;
    const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
    return aud.some((a) => this.audiences!.has(a)) ? null : 'wrong_audience';
  }
}

/** Our tokens always carry `exp`: a token without one is not ours and could never leave the cache. */
function hasWellTypedClaims(claims: JwtClaims): boolean {
  const isDate = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (!isDate(claims.exp)) return false;
  if ((claims.nbf !== undefined && !isDate(claims.nbf)) || (claims.iat !== undefined && !isDate(claims.iat))) return false;
  if (claims.iss !== undefined && typeof claims.iss !== 'string') return false;
  const aud = claims.aud;
  return aud === undefined || typeof aud === 'string' || (Array.isArray(aud) && aud.every((a) => typeof a === 'string'));
}

function timeRejection(claims: JwtClaims, nowSeconds: number, skew: number): TokenRejectionReason | null {
  if (claims.exp! <= nowSeconds - skew) return 'expired';
  if (claims.nbf !== undefined && claims.nbf > nowSeconds + skew) return 'not_yet_valid';
  if (claims.iat !== undefined && claims.iat > nowSeconds + skew) return 'not_yet_valid';
  return null;
}

/** Claims are shared by every request that presents the same token; freezing keeps them from leaking edits. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
