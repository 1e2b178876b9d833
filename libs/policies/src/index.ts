// The Gateway's surface: the schemas entry (all the Manager may load) plus the runtime.
export * from './schemas';
export type { Identity, RequestContext, Policy, PolicyRejection, PolicyOutcome, DirectoryCredential, CredentialRuleSet, CredentialLlmRules, PolicyResponse } from './policy';
export { createRequestContext } from './policy';
export type { PolicyCompileDeps, PolicyCompiler, OpaqueTokenLookup, OwnIssuers } from './compile-dependencies';
export type { KeyManagerDirectory, TrustedIssuer, IssuerVerdict, IssuerClaimMappings } from './key-managers/trusted-issuer';
export { CredentialDirectory, credentialState, type DirectoryApiKey } from './credential-directory';
export { PasswordVerificationCache } from './basic-auth/password-verification.cache';
export {
  normalizeHeaderName,
  isGatewayOwnedHeader,
  isReservedForPolicies,
  HOP_BY_HOP_HEADERS,
  NEVER_FROM_CLIENT,
  IDENTITY_HEADER_PREFIX,
  PROXY_CREDENTIALS_PREFIX,
} from './reserved-upstream-headers';
export { BasePathRouter } from './base-path-router';
export {
  compileEnvironment,
  compileProblems,
  credentialRulesDeps,
  EnvironmentCompiler,
  type CompiledEnvironment,
  type CompiledProxy,
  type CompileOptions,
  type CompileProblem,
} from './compiled-environment';
export type { RateLimitStore, RateLimitCounter, RateLimitVerdict } from './rate-limit/rate-limit.store';
export { RedisRateLimitStore } from './rate-limit/redis-rate-limit.store';
export { LlmRoutePolicy, LlmCall, type LlmSpend } from './llm-route/policy';
export type { UsageMeter } from './llm-route/usage-meter';
export type { TokenQuotaStore, TokenCounter, TokenReservation } from './llm-route/token-quota.store';
export { RedisTokenQuotaStore } from './llm-route/redis-token-quota.store';
export { CredentialRules } from './credential-rules/credential-rules';
export { countryDatabaseLoaded, countryOf, loadCountryDatabase } from './credential-rules/country-lookup';
export { endpointPatternToRegExp } from './credential-rules/acl.rule';
export { type DigestNonceStore, InMemoryDigestNonceStore } from './digest-auth/digest-nonce.store';
export { RedisDigestNonceStore } from './digest-auth/redis-digest-nonce.store';
export { type OidcSessionStore, InMemoryOidcSessionStore } from './oidc/session-store';
export { RedisOidcSessionStore } from './oidc/redis-session-store';
export { SenderConstraint, afterSenderConstraint, type SenderConstraintStores } from './sender-constraint/sender-constraint';
export { accessTokenOf, type PresentedAccessToken } from './sender-constraint/presented-access-token';
export { jwksFetcherWith, type JwksFetcher, type JwksConnector } from './jose-keys/remote-jwks';
export * from './identity-sources/federated-passwords';
