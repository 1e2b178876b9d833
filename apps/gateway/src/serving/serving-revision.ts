import type { SnapshotProxy, SnapshotSigningKey } from '@idm/config-bus';
import type { CompiledProxy, CompileProblem, CredentialDirectory, KeyManagerDirectory } from '@idm/policies';
import type { SigningKeyRing } from '@idm/tokens';
import type { Pool } from 'undici';
import type { ProxyMetrics } from '../metrics/gateway-metrics';
import type { TokenIndexes } from './token-indexes';

/** A proxy with everything the request path needs resolved: chain, pool, metric handles. */
export interface ProxyRoute {
  readonly proxy: CompiledProxy;
  /** null when the proxy is unavailable (its upstream URL did not compile). */
  readonly pool: Pool | null;
  readonly metrics: ProxyMetrics;
}

/**
 * One config revision as the proxy path and the token service read it. Its parts are kept
 * across revisions and only the affected ones change (see ActiveConfiguration): the credential
 * directory is updated in place, routes and chains are recompiled per changed proxy, the key
 * ring is reopened when the keys change.
 */
export interface ServingRevision {
  readonly environment: string;
  /** Publication epoch and revision this state corresponds to. */
  readonly epoch: string;
  readonly revision: number;
  /** The deployed proxies as published, by id. */
  readonly proxies: ReadonlyMap<string, SnapshotProxy>;
  readonly signingKeys: readonly SnapshotSigningKey[];
  /** The environment's credentials as the chains and the token service see them. */
  readonly directory: CredentialDirectory;
  /** Proxies that compiled to "unavailable" (they fail closed), for the log. */
  readonly problems: readonly CompileProblem[];
  /** The revision's signing keys, opened once (token service signs, jwt-auth verifies). */
  readonly keyRing: SigningKeyRing;
  /** The environment's key managers (trusted issuers), for the token service's JWT bearer grant; absent or null: none. */
  readonly trustedIssuers?: KeyManagerDirectory | null;
  /** Token clients, proxy token clients and the verifiers of our own JWTs: built on the first token call after a proxy or key change. */
  readonly tokens: TokenIndexes;
  route(path: string): ProxyRoute | undefined;
  /** The route of one proxy by id. */
  routeOf(proxyId: string): ProxyRoute | undefined;
}
