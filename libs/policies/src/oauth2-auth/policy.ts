import { TokenStoreUnavailable, type OpaqueTokenRecord } from '@idm/tokens';
import { PolicyConfigError } from '../policy-config.error';
import type { OpaqueTokenLookup, PolicyCompileDeps, PolicyCompiler } from '../compile-dependencies';
import type { Policy, PolicyOutcome, RequestContext } from '../policy';
import { BearerAccess } from '../jwt-auth/bearer-access';
import { afterSenderConstraint } from '../sender-constraint/sender-constraint';
import { accessTokenOf, type PresentedAccessToken } from '../sender-constraint/presented-access-token';
import { NOT_THIRD_PARTY, ThirdPartyBearer } from '../key-managers/third-party-bearer';
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
  /** Tokens of the key managers the policy lists (JWT or introspected); null when it lists none. */
  private readonly thirdParty: ThirdPartyBearer | null;
  readonly upstreamHeaderNames: readonly string[];

  constructor(
    config: OAuth2AuthConfig,
    private readonly deps: PolicyCompileDeps,
    private readonly tokens: OpaqueTokenLookup | null,
  ) {
    this.access = new BearerAccess(config, deps);
    this.thirdParty = config.keyManagers.length > 0 ? new ThirdPartyBearer(config.keyManagers, deps, this.access) : null;
    this.upstreamHeaderNames = this.thirdParty?.upstreamHeaderNames ?? [];
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const presented = accessTokenOf(ctx);
    if (presented === undefined) return this.access.rejections.missing_token;
    if (this.thirdParty !== null) {
      const outcome = this.thirdParty.check(ctx, presented);
      if (outcome !== NOT_THIRD_PARTY) return outcome;
      if (!this.thirdParty.acceptsOwn) return OPAQUE_ACCESS_TOKEN.test(presented.token) ? this.thirdParty.notAllowed : this.access.rejections.invalid_token;
    }
    // Anything that cannot be our token is refused without a round trip to Redis.
    if (!OPAQUE_ACCESS_TOKEN.test(presented.token) || this.tokens === null) return this.access.rejections.invalid_token;
    return this.tokens.lookup(presented.token).then(
      (record) => this.decide(ctx, record, presented),
      (err: unknown) => {
        if (err instanceof TokenStoreUnavailable) return this.access.rejections.unavailable;
        throw err;
      },
    );
  }

  private decide(ctx: RequestContext, record: OpaqueTokenRecord | null, presented: PresentedAccessToken): PolicyOutcome | Promise<PolicyOutcome> {
    const rejections = this.access.rejections;
    if (!record || record.kind !== 'access' || record.environment !== this.deps.environment) return rejections.invalid_token;
    if (record.proxyId !== undefined && !this.access.issuedForThisProxy(record.proxyId, record.clientId, record.issuedAt)) return rejections.invalid_token;
    ctx.tokenClientId = record.clientId;
    ctx.tokenIssuer = this.ownIssuerOf(ctx, record);
    ctx.tokenType = 'opaque';
    if (record.proxyId !== undefined && record.credentialId === undefined) {
      return afterSenderConstraint(this.access.sender.enforce(record.cnf, ctx, presented), () => this.access.admit(ctx, null, record.scope, []));
    }
    const credential = this.access.credentialOf(record.credentialId ?? record.subject);
    if (!credential) return rejections.invalid_token;
    return afterSenderConstraint(this.access.sender.enforce(record.cnf, ctx, presented), () => {
      const refused = this.access.admit(ctx, credential, record.scope, credential.roles);
      if (refused === undefined && credential.roles.length > 0) ctx.upstreamHeaders['x-authenticated-userroles'] = credential.roles.join(',');
      return refused;
    });
  }

  /**
   * Our token service as the auth record names it: a proxy client's token came from `/auth`, a
   * credential's from `/credential`, under the public URL or this request's origin (as minting here would).
   */
  private ownIssuerOf(ctx: RequestContext, record: OpaqueTokenRecord): string | null {
    const origin = this.deps.issuers?.originOf?.(ctx);
    return origin === undefined ? null : origin + (record.proxyId !== undefined ? '/auth' : '/credential');
  }
}

/** Compiles only where the host has a token store to ask (or, for key managers' tokens alone, none is needed). */
export const compileOAuth2Auth: PolicyCompiler<OAuth2AuthConfig> = (config, deps) => {
  if (!deps.opaqueTokens && config.keyManagers.length === 0) throw new PolicyConfigError([{ path: [], message: 'oauth2-auth needs a token store, and this gateway has none' }]);
  return new OAuth2AuthPolicy(config, deps, deps.opaqueTokens ?? null);
};
