import { TokenStoreUnavailable, type OpaqueTokenRecord } from '@idm/tokens';
import { PolicyConfigError } from '../policy-config.error';
import { establish, establishWithoutCredential } from '../authentication/establish';
import { AUTHORIZATION, type CredentialSource } from '../authentication/presented';
import type { OpaqueTokenLookup, PolicyCompileDeps, PolicyCompiler } from '../compile-dependencies';
import type { Identity, Policy, PolicyOutcome, RequestContext } from '../policy';
import { bearerRejections, deploymentStartSeconds, BearerRequirements, bearerToken, liveCredential, proxyClientIdentity, splitScope, type BearerRejections } from '../jwt-auth/bearer-access';
import type { OAuth2AuthConfig } from './schema';

const OPAQUE_ACCESS_TOKEN = /^idm_at_[A-Za-z0-9_-]{43}$/;

/**
 * Validates the token service's opaque access tokens against the shared token store (Redis,
 * falling back to the Manager's durable copy), so a revocation on any Gateway is seen by all.
 * A token is bound to its environment, to its proxy when it was issued for one, and to a
 * credential that must still exist and be enabled in the current revision.
 */
export class OAuth2AuthPolicy implements Policy {
  readonly type = 'oauth2-auth';
  readonly authenticates = true;
  private readonly requirements: BearerRequirements;
  private readonly rejections: BearerRejections;
  /** Set when this policy carries a token-service client (`/auth`): tokens issued for this proxy. */
  private readonly proxyClient: Identity | null;
  private readonly deployedSince: number;
  /** Where the token came from when the policy strips it, else null. */
  private readonly strip: CredentialSource | null;

  constructor(
    private readonly config: OAuth2AuthConfig,
    private readonly deps: PolicyCompileDeps,
    private readonly tokens: OpaqueTokenLookup,
  ) {
    this.requirements = new BearerRequirements(config.required, config.methods);
    this.rejections = bearerRejections(deps.proxy.basePath);
    this.proxyClient = proxyClientIdentity(deps, config.tokenService?.clientId);
    this.deployedSince = deploymentStartSeconds(deps);
    this.strip = config.stripAuthorization ? AUTHORIZATION : null;
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const token = bearerToken(ctx);
    if (token === undefined) return this.rejections.missing_token;
    // Anything that cannot be our token is refused without a round trip to Redis.
    if (!OPAQUE_ACCESS_TOKEN.test(token)) return this.rejections.invalid_token;
    return this.tokens.lookup(token).then(
      (record) => this.decide(ctx, record),
      (err: unknown) => {
        if (err instanceof TokenStoreUnavailable) return this.rejections.unavailable;
        throw err;
      },
    );
  }

  private decide(ctx: RequestContext, record: OpaqueTokenRecord | null): PolicyOutcome {
    if (!record || record.kind !== 'access' || record.environment !== this.deps.environment) return this.rejections.invalid_token;
    if (record.proxyId !== undefined) {
      // Issued through a proxy's policy (`/auth`): only for that proxy, and only while it keeps that client.
      if (record.proxyId !== this.deps.proxy.id || this.proxyClient === null || record.clientId !== this.proxyClient.credentialId || record.issuedAt < this.deployedSince) return this.rejections.invalid_token;
      if (record.credentialId === undefined) {
        if (!this.requirements.satisfiedBy(ctx.method, splitScope(record.scope), [])) return this.rejections.insufficient_scope;
        establishWithoutCredential(ctx, this.proxyClient, this.strip);
        return undefined;
      }
    }
    const credential = liveCredential(this.deps, record.credentialId ?? record.subject);
    if (!credential) return this.rejections.invalid_token;
    if (!this.requirements.satisfiedBy(ctx.method, splitScope(record.scope), credential.roles)) return this.rejections.insufficient_scope;
    establish(ctx, credential, this.strip);
    if (credential.roles.length > 0) ctx.upstreamHeaders['x-authenticated-userroles'] = credential.roles.join(',');
    return undefined;
  }
}

/** Compiles only where the host has a token store to ask. */
export const compileOAuth2Auth: PolicyCompiler<OAuth2AuthConfig> = (config, deps) => {
  if (!deps.opaqueTokens) throw new PolicyConfigError([{ path: [], message: 'oauth2-auth needs a token store, and this gateway has none' }]);
  return new OAuth2AuthPolicy(config, deps, deps.opaqueTokens);
};
