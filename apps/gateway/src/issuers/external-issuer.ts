import type { SnapshotKeyManager } from '@idm/config-bus';
import { hmacMinKeyBytes } from '@idm/domain';
import type { IssuerClaimMappings, IssuerVerdict, TrustedIssuer } from '@idm/policies';
import { decodeJsonObject, isSigningAlgorithm, jwsVerify, keyMismatch, splitCompactJws } from '@idm/tokens';
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { IntrospectionClient, UNAVAILABLE } from './introspection-client';
import { JwksCache } from './jwks-cache';

const MAX_TOKEN_LENGTH = 16_384;
const HMAC_HASH: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
const INVALID: IssuerVerdict = Object.freeze({ ok: false, unavailable: false });
const ISSUER_DOWN: IssuerVerdict = Object.freeze({ ok: false, unavailable: true });

/** One HMAC key a key manager verifies HS* tokens with. */
export interface HmacKey {
  key: Buffer;
  /** The project secret version's kid: a token naming it is checked against this key first. */
  kid: string | null;
  retiresAt: number | null;
}

/** What an external issuer is built with besides its snapshot entry (kept across revisions while it is unchanged). */
export interface ExternalIssuerParts {
  jwks: JwksCache | null;
  introspection: IntrospectionClient | null;
  /**
   * The opened HMAC keys for HS* (empty: HS* refused): the sealed shared secret, or every usable
   * version of a project secret, each until it retires (ms since the epoch; null: current).
   */
  hmacKeys: readonly HmacKey[];
  now: () => number;
}

/**
 * An external key manager as the bearer policies use it. JWTs: the header's `alg` must be one the
 * key manager allows and fit the key (`none` never; HS* only with its shared secret; RS/PS/ES/EdDSA
 * only with a JWKS key of the matching type, and the JWK's own `alg` when it names one), then
 * `iss`, `exp` (required), `nbf`, `iat`, audience and required claims. Opaque tokens: introspection,
 * with the same claim checks on its answer.
 */
export class ExternalIssuer implements TrustedIssuer {
  readonly builtin = false;
  readonly id: string;
  readonly name: string;
  readonly projectId: string | null;
  readonly issuer: string;
  readonly enabled: boolean;
  readonly acceptsJwt: boolean;
  readonly acceptsOpaque: boolean;
  readonly claimMappings: IssuerClaimMappings;
  private readonly algorithms: ReadonlySet<string>;
  private readonly audiences: ReadonlySet<string> | null;

  constructor(
    private readonly config: SnapshotKeyManager,
    private readonly parts: ExternalIssuerParts,
  ) {
    this.id = config.id;
    this.name = config.name;
    this.projectId = config.projectId;
    this.issuer = config.issuer!;
    this.enabled = config.enabled;
    this.acceptsJwt = config.tokenTypes !== 'opaque';
    this.acceptsOpaque = config.tokenTypes !== 'jwt';
    this.claimMappings = Object.freeze({ ...config.claimMappings, headers: Object.freeze({ ...config.claimMappings.headers }) });
    this.algorithms = new Set(config.algorithms.filter((a) => isSigningAlgorithm(a) || (a in HMAC_HASH && parts.hmacKeys.length > 0)));
    this.audiences = config.audiences.length > 0 ? new Set(config.audiences) : null;
  }

  verifyJwt(token: string): IssuerVerdict | Promise<IssuerVerdict> {
    const jws = splitCompactJws(token, MAX_TOKEN_LENGTH);
    if (!jws) return INVALID;
    const { alg, kid, crit } = jws.header;
    if (typeof alg !== 'string' || crit !== undefined || !this.algorithms.has(alg)) return INVALID;
    if (alg in HMAC_HASH) {
      const used = this.verifyHmac(jws, alg, kid);
      return used === undefined ? INVALID : this.claimsVerdict(jws.payloadSegment, null, null, used.retiresAt);
    }
    const jwks = this.parts.jwks;
    if (jwks === null || typeof kid !== 'string' || kid.length > 256) return INVALID;
    const held = jwks.get(kid);
    if (held !== undefined) return this.verifyWith(jws, alg, kid, held.key, held.alg);
    return jwks.fetchForUnknownKid().then((fetched) => {
      const key = fetched ? jwks.get(kid) : undefined;
      return key === undefined ? INVALID : this.verifyWith(jws, alg, kid, key.key, key.alg);
    });
  }

  /** Calls made to the issuer so far (tests, metrics). */
  get calls(): { jwksFetches: number; introspections: number } {
    return { jwksFetches: this.parts.jwks?.fetches ?? 0, introspections: this.parts.introspection?.calls ?? 0 };
  }

  stillTrusts(kid: string, key: object): boolean {
    return this.parts.jwks?.holds(kid, key) ?? false;
  }

  async introspect(token: string): Promise<IssuerVerdict> {
    if (this.parts.introspection === null || token.length > MAX_TOKEN_LENGTH) return INVALID;
    const answer = await this.parts.introspection.introspect(token);
    if (answer === UNAVAILABLE) return ISSUER_DOWN;
    if (!answer.active) return INVALID;
    // An introspection answer may omit iss; one that names another issuer is not this key manager's token.
    if (answer.claims.iss !== undefined && answer.claims.iss !== this.issuer) return INVALID;
    if (!this.claimsAcceptable(answer.claims, false)) return INVALID;
    return Object.freeze({ ok: true, claims: answer.claims, reuseUntil: answer.reuseUntil, kid: null, key: null });
  }

  /**
   * Any key not yet retired (a rotation's overlap: the previous secret's tokens still verify). A
   * few keys at most; the one the token's kid names is tried first, the others still count (a
   * signer need not set kid). A key shorter than the algorithm's hash (RFC 7518 §3.2) is never used.
   */
  private verifyHmac(jws: NonNullable<ReturnType<typeof splitCompactJws>>, alg: string, kid: unknown): HmacKey | undefined {
    const now = this.parts.now();
    const usable = this.parts.hmacKeys.filter((k) => (k.retiresAt === null || k.retiresAt > now) && k.key.length >= hmacMinKeyBytes([alg]));
    const ordered = [...usable.filter((k) => k.kid === kid), ...usable.filter((k) => k.kid !== kid)];
    return ordered.find((k) => {
      const expected = createHmac(HMAC_HASH[alg], k.key).update(jws.signingInput).digest();
      return expected.length === jws.signature.length && timingSafeEqual(expected, jws.signature);
    });
  }

  private verifyWith(jws: NonNullable<ReturnType<typeof splitCompactJws>>, alg: string, kid: string, key: KeyObject, jwkAlg: string | undefined): IssuerVerdict {
    if (!isSigningAlgorithm(alg) || (jwkAlg !== undefined && jwkAlg !== alg) || keyMismatch(key, alg) !== null) return INVALID;
    if (!jwsVerify(alg, Buffer.from(jws.signingInput), jws.signature, key)) return INVALID;
    return this.claimsVerdict(jws.payloadSegment, kid, key);
  }

  /** `keyRetiresAt`: a verdict reached with a retiring HMAC key is not reused past that key's end. */
  private claimsVerdict(payloadSegment: string, kid: string | null, key: KeyObject | null, keyRetiresAt: number | null = null): IssuerVerdict {
    const claims = decodeJsonObject(payloadSegment);
    if (!claims || claims.iss !== this.issuer || !this.claimsAcceptable(claims, true)) return INVALID;
    const reuseUntil = Math.min(((claims.exp as number) + this.config.clockSkewSeconds) * 1000, keyRetiresAt ?? Infinity);
    return Object.freeze({ ok: true, claims: Object.freeze(claims), reuseUntil, kid, key });
  }

  /** Time (exp required for JWTs: a verdict must end), audience and required claims. */
  private claimsAcceptable(claims: Record<string, unknown>, expRequired: boolean): boolean {
    const now = Math.floor(this.parts.now() / 1000);
    const skew = this.config.clockSkewSeconds;
    const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
    if (claims.exp === undefined ? expRequired : !isTime(claims.exp) || claims.exp <= now - skew) return false;
    if (claims.nbf !== undefined && (!isTime(claims.nbf) || claims.nbf > now + skew)) return false;
    if (claims.iat !== undefined && (!isTime(claims.iat) || claims.iat > now + skew)) return false;
    if (this.audiences !== null) {
      const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
      if (!aud.some((a) => typeof a === 'string' && this.audiences!.has(a))) return false;
    }
    return this.config.requiredClaims.every((c) => claims[c] !== undefined && claims[c] !== null);
  }
}
