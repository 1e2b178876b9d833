/**
 * The contract between the bearer policies and the Gateway's key managers (trusted issuers,
 * apps/gateway/src/issuers/): the policies decide which issuer a token belongs to and whether the
 * proxy accepts it; the Gateway fetches JWKS, introspects and caches. Nothing here does I/O.
 */

/** A key manager's answer about one token. */
export type IssuerVerdict =
  | {
      readonly ok: true;
      readonly claims: Readonly<Record<string, unknown>>;
      /** Epoch ms until which this verdict may be reused without asking again (exp, or the introspection cache bound). */
      readonly reuseUntil: number;
      /** JWT: the key it verified with, by kid; a reused verdict holds only while the issuer still has that exact key. */
      readonly kid: string | null;
      readonly key: object | null;
    }
  /** `unavailable`: the issuer could not be asked (introspection down); never mistaken for a bad token. */
  | { readonly ok: false; readonly unavailable: boolean };

export interface IssuerClaimMappings {
  readonly userId: string;
  readonly username: string;
  readonly roles: string;
  readonly scopes: string;
  readonly tenant?: string;
  /** Claim -> upstream header. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface TrustedIssuer {
  readonly id: string;
  readonly name: string;
  /** null: System scope, any project's proxy may accept it. */
  readonly projectId: string | null;
  /** Our own token service: its tokens are checked by the policies themselves. */
  readonly builtin: boolean;
  /** Exact `iss` of its tokens (null for a builtin one). */
  readonly issuer: string | null;
  readonly enabled: boolean;
  /** JWTs verified locally against the JWKS (tokenTypes jwt or both). */
  readonly acceptsJwt: boolean;
  /** Tokens introspected (RFC 7662; tokenTypes opaque or both). */
  readonly acceptsOpaque: boolean;
  readonly claimMappings: IssuerClaimMappings;
  /** Verifies a JWT of this issuer: signature, algorithm, time, audience, required claims. Sync while its key is cached. */
  verifyJwt(token: string): IssuerVerdict | Promise<IssuerVerdict>;
  /** True while `key` is still this issuer's key `kid` (after a rotation that removed it, cached verdicts die). */
  stillTrusts(kid: string, key: object): boolean;
  /** RFC 7662 introspection (shared cache, coalesced). */
  introspect(token: string): Promise<IssuerVerdict>;
}

/** The environment's key managers, as the serving revision compiled them. */
export interface KeyManagerDirectory {
  byId(id: string): TrustedIssuer | undefined;
  byIssuer(iss: string): TrustedIssuer | undefined;
}
