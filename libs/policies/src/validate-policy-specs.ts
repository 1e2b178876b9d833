import { policySchemaOf, policyTypes } from './policy-schemas';
import { PolicyConfigError, type PolicyConfigIssue } from './policy-config.error';

export interface PolicySpecInput {
  type: string;
  config: Record<string, unknown>;
}

/**
 * Validates a proxy's policy chain against each type's strict schema and returns it normalized
 * (defaults applied), so what the Manager stores is exactly what Gateways will compile.
 * Throws PolicyConfigError listing every issue of every policy.
 */
export function validatePolicySpecs(specs: PolicySpecInput[]): PolicySpecInput[] {
  const issues: PolicyConfigIssue[] = [];
  const normalized = specs.map((spec, i): PolicySpecInput => {
    const schema = policySchemaOf(spec?.type);
    if (!schema) {
      issues.push({ path: [i, 'type'], message: `unknown policy type "${String(spec?.type)}" (known: ${policyTypes().join(', ')})` });
      return spec;
    }
    const parsed = schema.safeParse(spec.config ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        issues.push({ path: [i, 'config', ...path], message: issue.message });
      }
      return spec;
    }
    return { type: spec.type, config: parsed.data as Record<string, unknown> };
  });
  if (issues.length > 0) throw new PolicyConfigError(issues);
  return normalized;
}
