import { JwtVerifier, SigningKeyRing } from '@idm/tokens';
import type { OwnIssuers, PolicyCompileDeps } from '../compile-dependencies';
import type { DirectoryCredential, Policy, PolicyOutcome, RequestContext } from '../policy';
import { afterSenderConstraint } from '../sender-constraint/sender-constraint';
import { accessTokenOf } from '../sender-constraint/presented-access-token';
import { BearerAccess } from './bearer-access';
import { NOT_THIRD_PARTY, ThirdPartyBearer } from '../key-managers/third-party-bearer';
import type { JwtAuthConfig } from './schema';

/** Issuer URLs of our own token service end in one of its two prefixes (the exact value is checked per request). */
const OWN_ISSUER = /^https?:\/\/[^/?#]+\/(auth|credential)$/;

/**
 * Validates JWTs issued by this environment's token service, entirely in memory: the key ring of
 * the revision pins the algorithm per kid (so `none`, HS256-with-the-public-key and unknown kids
 * fail before any cryptography), verified tokens are cached until they expire, and the token's
 * credential is looked up in the current revision so deleting or disabling it stops the token.
 */
export class JwtAuthPolicy implements Policy {
  readonly type = 'jwt-auth';
  readonly authenticates = true;
  private readonly verifier: JwtVerifier;
  private readonly access: BearerAccess;
  private readonly claimHeaders: readonly (readonly [string, string])[];
  readonly upstreamHeaderNames: readonly string[];
  /** Set when the issuer follows the request's host (no explicit issuers, no public URL): checked per request. */
  private readonly requestIssuers: OwnIssuers | null;
  /** Tokens of the key managers the policy lists; null when it lists none. */
  private readonly thirdParty: ThirdPartyBearer | null;

  constructor(config: JwtAuthConfig, deps: PolicyCompileDeps) {
    const audiences = config.audiences.length > 0 ? config.audiences : [deps.proxy.id, deps.proxy.basePath];
    // Exact issuers are checked once per token (the verified-token cache keeps the answer).
    const own = deps.issuers ?? null;
    this.requestIssuers = config.issuers.length === 0 && own !== null && own.fixed === null ? own : null;
    const exact = config.issuers.length > 0 ? config.issuers : (own?.fixed ?? []);
    this.verifier = new JwtVerifier(deps.keyRing ?? SigningKeyRing.empty(), {
      issuer: this.requestIssuers !== null ? (iss) => OWN_ISSUER.test(iss) : exact,
      revoked: deps.revokedJwts ?? null,
      audience: audiences,
      clockSkewSeconds: config.clockSkewSeconds,
      clock: deps.now,
    });
    this.access = new BearerAccess(config, deps);
    this.claimHeaders = Object.entries(config.claimHeaders);
    this.thirdParty = config.keyManagers.length > 0 ? new ThirdPartyBearer(config.keyManagers, deps, this.access) : null;
    this.upstreamHeaderNames = [...Object.values(config.claimHeaders), ...(this.thirdParty?.upstreamHeaderNames ?? [])];
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const rejections = this.access.rejections;
    const presented = accessTokenOf(ctx);
    if (presented === undefined) return rejections.missing_token;
    if (this.thirdParty !== null) {
      const outcome = this.thirdParty.check(ctx, presented);
      if (outcome !== NOT_THIRD_PARTY) return outcome;
    }
    const result = this.verifier.verify(presented.token);
    if (!result.ok) return rejections.invalid_token;
    if (this.thirdParty !== null && !this.thirdParty.acceptsOwn) return this.thirdParty.notAllowed;
    const claims = result.claims;
    if (this.requestIssuers !== null && !this.requestIssuers.isRequestIssuer(claims.iss!, ctx)) return rejections.invalid_token;
    // Verified (and checked against this host's issuer): what the auth record names.
    ctx.tokenIssuer = claims.iss ?? null;
    ctx.tokenType = 'jwt';
    const roles = Array.isArray(claims.roles) ? (claims.roles as string[]) : [];
    if (typeof claims.client_id === 'string') ctx.tokenClientId = claims.client_id;
    let credential: DirectoryCredential | null = null;
    if (claims.proxy_id !== undefined && !this.access.issuedForThisProxy(claims.proxy_id, claims.client_id, claims.iat)) return rejections.invalid_token;
    if (claims.proxy_id === undefined || claims.sub !== claims.client_id) {
      credential = this.access.credentialOf(claims.sub) ?? null;
      if (!credential) return rejections.invalid_token;
    }
    // Last of the token checks: it may cost a round trip to the shared replay cache.
    return afterSenderConstraint(this.access.sender.enforce(claims.cnf, ctx, presented), () => this.admit(ctx, credential, claims, roles));
  }

  /** `credential` null: the proxy's own client (client_credentials through `/auth`). */
  private admit(ctx: RequestContext, credential: DirectoryCredential | null, claims: Record<string, unknown>, roles: string[]): PolicyOutcome {
    const refused = this.access.admit(ctx, credential, claims.scope, roles);
    if (refused === undefined) this.forwardClaims(ctx, claims, roles);
    return refused;
  }

  private forwardClaims(ctx: RequestContext, claims: Record<string, unknown>, roles: string[]): void {
    if (roles.length > 0) ctx.upstreamHeaders['x-authenticated-userroles'] = roles.join(',');
    for (const [claim, header] of this.claimHeaders) {
      const value = claims[claim];
      if (value === undefined || value === null) continue;
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects are JSON-encoded; what reaches String() is a primitive
      ctx.upstreamHeaders[header] = Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
  }
}
