import { apiKeyPolicy } from './api-key/policy';
import { basicAuthPolicy } from './basic-auth/policy';
import type { PolicyDefinition } from './policy';
import { rateLimitPolicy } from './rate-limit/policy';

/** Every policy type this build understands: type name -> definition (schema + compiler). */
const definitions: readonly PolicyDefinition[] = [apiKeyPolicy, basicAuthPolicy, rateLimitPolicy];

export const policyRegistry: ReadonlyMap<string, PolicyDefinition> = new Map(definitions.map((d) => [d.type, d]));

export function policyTypes(): string[] {
  return [...policyRegistry.keys()];
}
