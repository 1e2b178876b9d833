import type { ConfigSnapshot } from '@idm/config-bus';
import type { CompiledEnvironment, CompiledProxy } from '@idm/policies';
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
 * Everything derived from one config revision, built once (at activation; the token indexes on
 * the revision's first token call) and read by both the proxy path and the token service. Each part is its own index (routes, credential directory,
 * token clients, key ring), so a later change can rebuild one part without the others.
 */
export interface ServingRevision {
  readonly snapshot: ConfigSnapshot;
  /** Routes, compiled chains and the credential directory (`compiled.directory`). */
  readonly compiled: CompiledEnvironment;
  /** The revision's signing keys, opened once (token service signs, jwt-auth verifies). */
  readonly keyRing: SigningKeyRing;
  /** Token clients, proxy token clients and the verifiers of our own JWTs: built at most once per revision, on its first token call. */
  readonly tokens: TokenIndexes;
  route(path: string): ProxyRoute | undefined;
}
