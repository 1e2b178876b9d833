import { apiKeyPolicy } from './api-key/policy';
import { base64AuthPolicy } from './base64-auth/policy';
import { basicAuthPolicy } from './basic-auth/policy';
import { digestAuthPolicy } from './digest-auth/policy';
import { jwtAuthPolicy } from './jwt-auth/policy';
import { mtlsAuthPolicy } from './mtls-auth/policy';
import { oauth2AuthPolicy } from './oauth2-auth/policy';
import type { PolicyDefinition } from './policy';
import { rateLimitPolicy } from './rate-limit/policy';

/** Every policy type this build understands: type name -> definition (schema + compiler). */
const definitions: readonly PolicyDefinition[] = [apiKeyPolicy, basicAuthPolicy, rateLimitPolicy, jwtAuthPolicy, oauth2AuthPolicy, digestAuthPolicy, base64AuthPolicy, mtlsAuthPolicy];

export const policyRegistry: ReadonlyMap<string, PolicyDefinition> = new Map(definitions.map((d) => [d.type, d]));

export function policyTypes(): string[] {
  return [...policyRegistry.keys()];
}
