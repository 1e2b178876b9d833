import { TokenStoreUnavailable, type OpaqueTokenRecord } from '@idm/tokens';
import { PolicyConfigError } from '../policy-config.error';
import type { OpaqueTokenLookup, PolicyCompileDeps, PolicyCompiler } from '../compile-dependencies';
import type { Policy, PolicyOutcome, RequestContext } from '../policy';
import { BearerAccess, bearerToken } from '../jwt-auth/bearer-access';
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
  private readonly access: BearerAccess;

  constructor(
    config: OAuth2AuthConfig,
    private readonly deps: PolicyCompileDeps,
    private readonly tokens: OpaqueTokenLookup,
  ) {
    this.access = new BearerAccess(config, deps);
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const token = bearerToken(ctx);
    if (token === undefined) return this.access.rejections.missing_token;
    // Anything that cannot be our token is refused without a round trip to Redis.
    if (!OPAQUE_ACCESS_TOKEN.test(token)) return this.access.rejections.invalid_token;
    return this.tokens.lookup(token).then(
      (record) => this.decide(ctx, record),
      (err: unknown) => {
        if (err instanceof TokenStoreUnavailable) return this.access.rejections.unavailable;
        throw err;
      },
    );
  }

  private decide(ctx: RequestContext, record: OpaqueTokenRecord | null): PolicyOutcome {
    const rejections = this.access.rejections;
    if (!record || record.kind !== 'access' || record.environment !== this.deps.environment) return rejections.invalid_token;
    if (record.proxyId !== undefined) {
      if (!this.access.issuedForThisProxy(record.proxyId, record.clientId, record.issuedAt)) return rejections.invalid_token;
      if (record.credentialId === undefined) return this.access.admit(ctx, null, record.scope, []);
    }
    const credential = this.access.credentialOf(record.credentialId ?? record.subject);
    if (!credential) return rejections.invalid_token;
    const refused = this.access.admit(ctx, credential, record.scope, credential.roles);
    if (refused === undefined && credential.roles.length > 0) ctx.upstreamHeaders['x-authenticated-userroles'] = credential.roles.join(',');
    return refused;
  }
}

/** Compiles only where the host has a token store to ask. */
export const compileOAuth2Auth: PolicyCompiler<OAuth2AuthConfig> = (config, deps) => {
  if (!deps.opaqueTokens) throw new PolicyConfigError([{ path: [], message: 'oauth2-auth needs a token store, and this gateway has none' }]);
  return new OAuth2AuthPolicy(config, deps, deps.opaqueTokens);
};
