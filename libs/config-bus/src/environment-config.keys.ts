/**
 * Where an environment's published configuration lives in Redis. Every key carries the
 * environment as a hash tag (`{dev}`), so on a Redis Cluster they share one slot and the Lua
 * scripts that touch several of them stay valid.
 *
 * - `head`        HASH   epoch, revision, schemaVersion of what is stored
 * - `proxies`     HASH   proxy id -> SnapshotProxy JSON
 * - `credentials` HASH   credential id -> SnapshotCredential JSON
 * - `keys`        STRING the environment's signing keys, JSON (a short list)
 * - `keyManagers` STRING the key managers (trusted issuers), JSON (a short list)
 * - `identitySources` STRING the identity sources (LDAP, SQL), JSON (a short list)
 * - `log`         STREAM one entry per revision (id `<revision>-1`), the change that made it
 */
export interface EnvironmentConfigKeys {
  head: string;
  proxies: string;
  credentials: string;
  keys: string;
  keyManagers: string;
  identitySources: string;
  log: string;
}

export function environmentConfigKeys(environment: string): EnvironmentConfigKeys {
  const prefix = `idm:config:{${environment}}`;
  return {
    head: `${prefix}:head`,
    proxies: `${prefix}:proxies`,
    credentials: `${prefix}:credentials`,
    keys: `${prefix}:keys`,
    keyManagers: `${prefix}:key-managers`,
    identitySources: `${prefix}:identity-sources`,
    log: `${prefix}:log`,
  };
}

/** Keys a full replacement fills before it swaps them in; unique per replacement. */
export function stagingKeys(environment: string, id: string): Pick<EnvironmentConfigKeys, 'proxies' | 'credentials'> {
  const prefix = `idm:config:{${environment}}:staging:${id}`;
  return { proxies: `${prefix}:proxies`, credentials: `${prefix}:credentials` };
}
