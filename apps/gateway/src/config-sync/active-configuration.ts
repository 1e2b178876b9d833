import type { ConfigSnapshot } from '@idm/config-bus';
import { compileEnvironment, PasswordVerificationCache, type CompiledEnvironment, type CompiledProxy, type RateLimitStore } from '@idm/policies';
import type { Pool } from 'undici';
import type { GatewayMetrics, ProxyMetrics } from '../metrics/gateway-metrics';
import type { UpstreamPools } from '../proxy/upstream-pools';

/** A proxy with everything the request path needs resolved: chain, pool, metric handles. */
export interface ProxyRoute {
  readonly proxy: CompiledProxy;
  /** null when the proxy is unavailable (its upstream URL did not compile). */
  readonly pool: Pool | null;
  readonly metrics: ProxyMetrics;
}

export interface ServingConfig {
  readonly snapshot: ConfigSnapshot;
  readonly compiled: CompiledEnvironment;
  route(path: string): ProxyRoute | undefined;
}

/**
 * The configuration this Gateway serves right now. A new revision is compiled completely
 * before it replaces the old one in a single assignment, so a request sees one revision or
 * the other, never a mix; requests already running keep the objects they started with.
 */
export class ActiveConfiguration {
  private serving: ServingConfig | null = null;
  /** Outlives revisions: verified passwords stay verified while their hash is unchanged. */
  private readonly passwordCache = new PasswordVerificationCache();

  constructor(
    private readonly pools: UpstreamPools,
    private readonly metrics: GatewayMetrics,
    private readonly rateLimits: { store: RateLimitStore | null; onStoreError?: (err: unknown) => void } = { store: null },
  ) {}

  get current(): ServingConfig | null {
    return this.serving;
  }

  get revision(): number | null {
    return this.serving?.snapshot.revision ?? null;
  }

  activate(snapshot: ConfigSnapshot): ServingConfig {
    const compiled = compileEnvironment(snapshot, {
      passwordCache: this.passwordCache,
      rateLimitStore: this.rateLimits.store,
      onRateLimitStoreError: (err) => {
        this.metrics.rateLimitStoreErrors.inc();
        this.rateLimits.onStoreError?.(err);
      },
    });
    const routes = new Map<CompiledProxy, ProxyRoute>();
    for (const proxy of compiled.proxies) {
      const pool = proxy.unavailable || !proxy.upstreamOrigin ? null : this.pools.acquire(proxy.upstreamOrigin);
      routes.set(proxy, { proxy, pool, metrics: this.metrics.forProxy(proxy.name, proxy.basePath) });
    }
    const previous = this.serving;
    const next: ServingConfig = Object.freeze({
      snapshot,
      compiled,
      route: (path: string) => {
        const proxy = compiled.route(path);
        return proxy && routes.get(proxy);
      },
    });
    this.serving = next;
    this.metrics.configRevision.set(snapshot.revision);
    this.releaseUnused(previous, compiled);
    return next;
  }

  private releaseUnused(previous: ServingConfig | null, compiled: CompiledEnvironment): void {
    const seriesKey = (p: CompiledProxy) => `${p.name}\u0000${p.basePath}`;
    const kept = new Set(compiled.proxies.map(seriesKey));
    for (const p of previous?.compiled.proxies ?? []) if (!kept.has(seriesKey(p))) this.metrics.releaseProxy(p.name, p.basePath);
    this.pools.retainOnly(new Set(compiled.proxies.map((p) => p.upstreamOrigin).filter(Boolean)));
  }
}
