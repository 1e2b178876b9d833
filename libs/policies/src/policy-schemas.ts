import type { z } from 'zod';
import { apiKeyConfigSchema } from './api-key/schema';
import { base64AuthConfigSchema } from './base64-auth/schema';
import { basicAuthConfigSchema } from './basic-auth/schema';
import { digestAuthConfigSchema } from './digest-auth/schema';
import { joseImplementationConfigSchema } from './jose-implementation/schema';
import { joseValidationConfigSchema } from './jose-validation/schema';
import { jwtAuthConfigSchema } from './jwt-auth/schema';
import { llmRouteConfigSchema } from './llm-route/schema';
import { mtlsAuthConfigSchema } from './mtls-auth/schema';
import { oauth2AuthConfigSchema } from './oauth2-auth/schema';
import { oidcConfigSchema } from './oidc/schema';
import { rateLimitConfigSchema } from './rate-limit/schema';

/**
 * Every policy type this build understands: type name -> strict config schema (defaults applied
 * by it). Schemas only, so the Manager validates policy chains without loading the Gateway's
 * runtime; the compilers (policy-compilers.ts) must cover exactly these types.
 */
export const policySchemas = {
  'api-key': apiKeyConfigSchema,
  'basic-auth': basicAuthConfigSchema,
  'rate-limit': rateLimitConfigSchema,
  'jwt-auth': jwtAuthConfigSchema,
  'oauth2-auth': oauth2AuthConfigSchema,
  'digest-auth': digestAuthConfigSchema,
  'base64-auth': base64AuthConfigSchema,
  'mtls-auth': mtlsAuthConfigSchema,
  'jose-implementation': joseImplementationConfigSchema,
  'jose-validation': joseValidationConfigSchema,
  'llm-route': llmRouteConfigSchema,
  oidc: oidcConfigSchema,
} as const;

export type PolicyType = keyof typeof policySchemas;
export type PolicyConfig<T extends PolicyType> = z.output<(typeof policySchemas)[T]>;

// A Map, so a type named like an Object.prototype member ("constructor") is simply unknown.
const byType: ReadonlyMap<string, z.ZodType> = new Map(Object.entries(policySchemas));

export function policySchemaOf(type: string): z.ZodType | undefined {
  return byType.get(type);
}

export function policyTypes(): string[] {
  return [...byType.keys()];
}
