/**
 * The field names that refer to a project secret: `secretId` and every `<role>SecretId`
 * (`trustStoreSecretId`, `clientCertificateSecretId`). One rule, so publication, the Manager's
 * reference check and APIops' name mapping can never disagree about what is a reference.
 */
export const isSecretReferenceKey = (key: string): boolean => key === 'secretId' || key.endsWith('SecretId');

/**
 * Project secrets a policy chain refers to: every secret reference anywhere in the policies'
 * configs. The Manager publishes exactly these with the proxy, so a Gateway never receives a
 * secret none of its proxies needs.
 */
export function secretIdsIn(policies: readonly { config: Record<string, unknown> }[]): string[] {
  const ids = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (isSecretReferenceKey(key) && typeof inner === 'string') ids.add(inner);
        else walk(inner);
      }
    }
  };
  policies.forEach((p) => walk(p.config));
  return [...ids];
}
