import type { ConfigSnapshot } from '@idm/config-bus';
import { compileEnvironment, PasswordVerificationCache, type CompileOptions, type CompiledEnvironment, type CompiledProxy, type OpaqueTokenLookup, type RateLimitStore } from '@idm/policies';
import { SigningKeyRing, type KeyRingProblem, type RevokedJwtIds, type SecretOpener } from '@idm/tokens';
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
  /** The revision's signing keys, opened once (token service signs, jwt-auth verifies). */
  readonly keyRing: SigningKeyRing;
  route(path: string): ProxyRoute | undefined;
}

/** What the token pieces need from a revision: a way to open sealed keys, and the opaque token store. */
export interface TokenDependencies {
  secrets: SecretOpener;
  opaqueTokens: OpaqueTokenLookup | null;
  /** This environment's own token issuers (jwt-auth's default). */
  issuers?: CompileOptions['issuers'];
  /** Revoked JWT ids shared by the environment's Gateways: jwt-auth and the token endpoints read them, revocation adds. */
  revokedJwts?: RevokedJwtIds | null;
  /** Keys that could not be imported (loud log; the revision serves without them). */
  onKeyProblems?: (problems: KeyRingProblem[]) => void;
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
    private readonly tokens: TokenDependencies | null = null,
    /** Master key and Digest nonce plumbing for authentication policies (digest-auth). */
    private readonly authentication: Pick<CompileOptions, 'secrets' | 'digest'> = {},
  ) {}

  get current(): ServingConfig | null {
    return this.serving;
  }

  /** Outlives revisions: the environment's revoked JWT ids (null where no token service runs). */
  get revokedJwts(): RevokedJwtIds | null {
    return this.tokens?.revokedJwts ?? null;
  }

  get revision(): number | null {
    return this.serving?.snapshot.revision ?? null;
  }

  activate(snapshot: ConfigSnapshot): ServingConfig {
    const keyRing = this.openKeyRing(snapshot);
    const compiled = compileEnvironment(snapshot, {
      keyRing,
      opaqueTokens: this.tokens?.opaqueTokens ?? null,
      issuers: this.tokens?.issuers ?? null,
      revokedJwts: this.tokens?.revokedJwts ?? null,
      passwordCache: this.passwordCache,
      secrets: this.authentication.secrets,
      digest: this.authentication.digest,
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
      keyRing,
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

  private openKeyRing(snapshot: ConfigSnapshot): SigningKeyRing {
    if (!this.tokens || snapshot.signingKeys.length === 0) return SigningKeyRing.empty();
    const { ring, problems } = SigningKeyRing.fromSnapshot(snapshot.signingKeys, this.tokens.secrets);
    if (problems.length > 0) this.tokens.onKeyProblems?.(problems);
    return ring;
  }

  private releaseUnused(previous: ServingConfig | null, compiled: CompiledEnvironment): void {
    const seriesKey = (p: CompiledProxy) => `${p.name}\u0000${p.basePath}`;
    const kept = new Set(compiled.proxies.map(seriesKey));
    for (const p of previous?.compiled.proxies ?? []) if (!kept.has(seriesKey(p))) this.metrics.releaseProxy(p.name, p.basePath);
    this.pools.retainOnly(new Set(compiled.proxies.map((p) => p.upstreamOrigin).filter(Boolean)));
  }
}
