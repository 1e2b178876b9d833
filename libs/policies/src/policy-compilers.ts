import { ApiKeyPolicy } from './api-key/policy';
import { Base64AuthPolicy } from './base64-auth/policy';
import { BasicAuthPolicy } from './basic-auth/policy';
import type { PolicyCompileDeps, PolicyCompiler } from './compile-dependencies';
import { DigestAuthPolicy } from './digest-auth/policy';
import { JoseImplementationPolicy } from './jose-implementation/policy';
import { JoseValidationPolicy } from './jose-validation/policy';
import { JwtAuthPolicy } from './jwt-auth/policy';
import { LlmRoutePolicy } from './llm-route/policy';
import { MtlsAuthPolicy } from './mtls-auth/policy';
import { compileOAuth2Auth } from './oauth2-auth/policy';
import { compileOidc } from './oidc/policy';
import type { Policy } from './policy';
import type { PolicyConfig, PolicyType } from './policy-schemas';
import { RateLimitPolicy } from './rate-limit/policy';

/** The Gateway's half of the registry: one compiler per type of policy-schemas.ts (the mapped type makes a missing or extra one a type error). */
const compilers: { readonly [T in PolicyType]: PolicyCompiler<PolicyConfig<T>> } = {
  'api-key': (config, deps) => new ApiKeyPolicy(config, deps),
  'basic-auth': (config, deps) => new BasicAuthPolicy(config, deps),
  'rate-limit': (config, deps) => new RateLimitPolicy(config, deps),
  'jwt-auth': (config, deps) => new JwtAuthPolicy(config, deps),
  'oauth2-auth': compileOAuth2Auth,
  'digest-auth': (config, deps) => new DigestAuthPolicy(config, deps),
  'base64-auth': (config, deps) => new Base64AuthPolicy(config, deps),
  'mtls-auth': (config, deps) => new MtlsAuthPolicy(config, deps),
  'jose-implementation': (config, deps) => new JoseImplementationPolicy(config, deps),
  'jose-validation': (config, deps) => new JoseValidationPolicy(config, deps),
  'llm-route': (config, deps) => new LlmRoutePolicy(config, deps),
  oidc: compileOidc,
};

/** `spec` must have passed validatePolicySpecs (a known type, its config normalized by the schema). */
export function compilePolicy(spec: { type: string; config: unknown }, deps: PolicyCompileDeps): Policy {
  return (compilers[spec.type as PolicyType] as PolicyCompiler<unknown>)(spec.config, deps);
}
