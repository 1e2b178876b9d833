import { JwtVerifier, SigningKeyRing } from '@idm/tokens';
import type { OwnIssuers, PolicyCompileDeps } from '../compile-dependencies';
import type { DirectoryCredential, Policy, PolicyOutcome, RequestContext } from '../policy';
import { BearerAccess, bearerToken } from './bearer-access';
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
    this.upstreamHeaderNames = Object.values(config.claimHeaders);
  }

  execute(ctx: RequestContext): PolicyOutcome {
    const rejections = this.access.rejections;
    const token = bearerToken(ctx);
    if (token === undefined) return rejections.missing_token;
    const result = this.verifier.verify(token);
    if (!result.ok) return rejections.invalid_token;
    const claims = result.claims;
    if (this.requestIssuers !== null && !this.requestIssuers.isRequestIssuer(claims.iss!, ctx)) return rejections.invalid_token;
    const roles = Array.isArray(claims.roles) ? (claims.roles as string[]) : [];
    if (claims.proxy_id !== undefined) {
      if (!this.access.issuedForThisProxy(claims.proxy_id, claims.client_id, claims.iat)) return rejections.invalid_token;
      if (claims.sub === claims.client_id) return this.admit(ctx, null, claims, roles);
    }
    const credential = this.access.credentialOf(claims.sub);
    if (!credential) return rejections.invalid_token;
    return this.admit(ctx, credential, claims, roles);
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
