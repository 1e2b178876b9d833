/**
 * `@idm/policies/schemas`: what the Manager needs from the policies (config schemas, chain
 * validation, reason codes, the digest HA1 it seals) without the Gateway's runtime: nothing
 * reachable from here loads argon2, ioredis or the geo database (schemas-entry.spec.ts).
 */
export { policySchemas, policyTypes, type PolicyType, type PolicyConfig } from './policy-schemas';
export { policyJsonSchemas, type PolicyTypeDocument } from './policy-json-schemas';
export { validatePolicySpecs, type PolicySpecInput } from './validate-policy-specs';
export { PolicyConfigError, type PolicyConfigIssue } from './policy-config.error';
export { REJECTION_REASONS, type RejectionCode } from './rejection-reasons';
export { apiKeyConfigSchema, type ApiKeyConfig } from './api-key/schema';
export { basicAuthConfigSchema, type BasicAuthConfig } from './basic-auth/schema';
export { rateLimitConfigSchema, type RateLimitConfig } from './rate-limit/schema';
export { jwtAuthConfigSchema, type JwtAuthConfig } from './jwt-auth/schema';
export { oauth2AuthConfigSchema, type OAuth2AuthConfig } from './oauth2-auth/schema';
export { digestAuthConfigSchema, type DigestAuthConfig } from './digest-auth/schema';
export { base64AuthConfigSchema, type Base64AuthConfig } from './base64-auth/schema';
export { mtlsAuthConfigSchema, type MtlsAuthConfig } from './mtls-auth/schema';
export { llmRouteConfigSchema, type LlmRouteConfig } from './llm-route/schema';
export { oidcConfigSchema, type OidcConfig } from './oidc/schema';
export { tokenServicePolicySchema, tokenCorsSchema, forwardedForSchema, type TokenServicePolicy, type TokenCors, type ForwardedFor } from './token-service-policy/schema';
export { computeDigestHa1, type DigestHa1Record } from './digest-auth/digest-ha1';
export { joseImplementationConfigSchema, type JoseImplementationConfig } from './jose-implementation/schema';
export { joseValidationConfigSchema, type JoseValidationConfig } from './jose-validation/schema';
export { isSecretReferenceKey, secretIdsIn } from './secret-references';
