import { isSecretReferenceKey } from '@idm/policies/schemas';

type Policies = { type: string; config: Record<string, unknown> }[];

/** Where policies point: key managers and project secrets, by id (stored) or by name (bundle). */
export interface ReferenceMap {
  keyManagers: Map<string, string>;
  secrets: Map<string, string>;
}

/** A reference the map does not know, with its path inside the policy list. */
export interface UnknownReference {
  kind: 'key manager' | 'secret';
  name: string;
  path: string;
}

/** `secretId` <-> `secretName`, `trustStoreSecretId` <-> `trustStoreSecretName`: the bundle says which it holds. */
const NAME_SUFFIX = 'SecretName';
const isSecretNameKey = (key: string) => key === 'secretName' || key.endsWith(NAME_SUFFIX);
const nameKeyOf = (idKey: string) => `${idKey.slice(0, -'Id'.length)}Name`;
const idKeyOf = (nameKey: string) => `${nameKey.slice(0, -'Name'.length)}Id`;

/**
 * Rewrites a policy list between the stored form (ids) and the bundle form (names), so a bundle
 * moves between installations: `keyManagers` lists names, and every secret reference
 * `<x>SecretId: <uuid>` becomes `<x>SecretName: <name>`. A stored id the map does not know (a
 * dangling reference) is kept as an id; a bundle name it does not know is reported.
 */
function rewrite(policies: Policies, toNames: boolean, map: ReferenceMap, unknown: (u: UnknownReference) => void): Policies {
  const walk = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}.${i}`));
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => {
        if (toNames && isSecretReferenceKey(key) && typeof inner === 'string' && map.secrets.has(inner)) return [nameKeyOf(key), map.secrets.get(inner)];
        if (!toNames && isSecretNameKey(key) && typeof inner === 'string') {
          if (!map.secrets.has(inner)) unknown({ kind: 'secret', name: inner, path: `${path}.${key}` });
          return [idKeyOf(key), map.secrets.get(inner) ?? inner];
        }
        return [key, walk(inner, `${path}.${key}`)];
      }),
    );
  };
  return policies.map((p, i) => {
    const config = walk(p.config, `policies.${i}.config`) as Record<string, unknown>;
    if (Array.isArray(config.keyManagers)) {
      config.keyManagers = config.keyManagers.map((ref: unknown, j) => {
        const known = typeof ref === 'string' ? map.keyManagers.get(ref) : undefined;
        if (!toNames && known === undefined) unknown({ kind: 'key manager', name: String(ref), path: `policies.${i}.config.keyManagers.${j}` });
        return known ?? ref;
      });
    }
    return { ...p, config };
  });
}

/** Stored policies as a bundle writes them. `map`: id -> name. */
export function policiesByName(policies: Policies, idToName: ReferenceMap): Policies {
  return rewrite(policies, true, idToName, () => undefined);
}

/** Bundle policies as the proxy service takes them. `map`: name -> id. */
export function policiesById(policies: Policies, nameToId: ReferenceMap, unknown: (u: UnknownReference) => void = () => undefined): Policies {
  return rewrite(policies, false, nameToId, unknown);
}

/** The reverse of a map (name -> id from id -> name, and back). */
export function inverted(map: ReferenceMap): ReferenceMap {
  const flip = (m: Map<string, string>) => new Map([...m].map(([k, v]) => [v, k]));
  return { keyManagers: flip(map.keyManagers), secrets: flip(map.secrets) };
}
