import { JwtVerifier, SigningKeyRing } from '@idm/tokens';
import { establish, establishWithoutCredential } from '../authentication/establish';
import { AUTHORIZATION, type CredentialSource } from '../authentication/presented';
import type { OwnIssuers, PolicyCompileDeps } from '../compile-dependencies';
import type { Identity, Policy, PolicyOutcome, RequestContext } from '../policy';
import { bearerRejections, deploymentStartSeconds, BearerRequirements, bearerToken, liveCredential, proxyClientIdentity, splitScope, type BearerRejections } from './bearer-access';
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
  private readonly requirements: BearerRequirements;
  private readonly rejections: BearerRejections;
  private readonly claimHeaders: readonly (readonly [string, string])[];
  readonly upstreamHeaderNames: readonly string[];
  /** Set when this policy carries a token-service client (`/auth`); its tokens name this proxy in `proxy_id`. */
  private readonly proxyClient: Identity | null;
  private readonly deployedSince: number;
  /** Where the token came from when the policy strips it, else null. */
  private readonly strip: CredentialSource | null;
  /** Set when the issuer follows the request's host (no explicit issuers, no public URL): checked per request. */
  private readonly requestIssuers: OwnIssuers | null;

  constructor(
    private readonly config: JwtAuthConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
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
    this.requirements = new BearerRequirements(config.required, config.methods);
    this.rejections = bearerRejections(deps.proxy.basePath);
    this.claimHeaders = Object.entries(config.claimHeaders);
    this.upstreamHeaderNames = Object.values(config.claimHeaders);
    this.proxyClient = proxyClientIdentity(deps, config.tokenService?.clientId);
    this.deployedSince = deploymentStartSeconds(deps);
    this.strip = config.stripAuthorization ? AUTHORIZATION : null;
  }

  execute(ctx: RequestContext): PolicyOutcome {
    const token = bearerToken(ctx);
    if (token === undefined) return this.rejections.missing_token;
    const result = this.verifier.verify(token);
    if (!result.ok) return this.rejections.invalid_token;
    const claims = result.claims;
    if (this.requestIssuers !== null && !this.requestIssuers.isRequestIssuer(claims.iss!, ctx)) return this.rejections.invalid_token;
    const roles = Array.isArray(claims.roles) ? (claims.roles as string[]) : [];
    if (claims.proxy_id !== undefined) {
      // Issued through a proxy's policy (`/auth`): only for that proxy, and only while it keeps that client.
      if (claims.proxy_id !== this.deps.proxy.id || this.proxyClient === null || claims.client_id !== this.proxyClient.credentialId) return this.rejections.invalid_token;
      if (typeof claims.iat !== 'number' || claims.iat < this.deployedSince) return this.rejections.invalid_token;
      if (claims.sub === claims.client_id) {
        if (!this.requirements.satisfiedBy(ctx.method, splitScope(claims.scope), roles)) return this.rejections.insufficient_scope;
        establishWithoutCredential(ctx, this.proxyClient, this.strip);
        this.forwardClaims(ctx, claims, roles);
        return undefined;
      }
    }
    const credential = liveCredential(this.deps, claims.sub);
    if (!credential) return this.rejections.invalid_token;
    if (!this.requirements.satisfiedBy(ctx.method, splitScope(claims.scope), roles)) return this.rejections.insufficient_scope;

    establish(ctx, credential, this.strip);
    this.forwardClaims(ctx, claims, roles);
    return undefined;
  }

  private forwardClaims(ctx: RequestContext, claims: Record<string, unknown>, roles: string[]): void {
    if (roles.length > 0) ctx.upstreamHeaders['x-authenticated-userroles'] = roles.join(',');
    for (const [claim, header] of this.claimHeaders) {
      const value = claims[claim];
      if (value === undefined || value === null) continue;
      ctx.upstreamHeaders[header] = Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
  }
}
