import type { ConfigSnapshot } from '@idm/config-bus';
import { compileEnvironment, PasswordVerificationCache, type CompileOptions, type CompiledEnvironment, type CompiledProxy, type OpaqueTokenLookup, type RateLimitStore } from '@idm/policies';
import { SigningKeyRing, type KeyRingProblem, type RevokedJwtIds, type SecretOpener } from '@idm/tokens';
import type { Pool } from 'undici';
import type { GatewayMetrics } from '../metrics/gateway-metrics';
import type { ProxyRoute, ServingRevision } from './serving-revision';
import { buildTokenIndexes, type TokenIndexes } from './token-indexes';

/** The upstream connection pools, one per origin (proxy/upstream-pools.ts). */
export interface UpstreamPoolRegistry {
  acquire(origin: string): Pool;
  retainOnly(origins: ReadonlySet<string>): void;
}

/** What a revision is built with beyond its snapshot (see ServingDependencies); every part outlives revisions. */
export interface ActivationDependencies {
  /** The one master-key box: signing keys, proxy client secrets, digest HA1. Absent: nothing sealed opens. */
  secrets?: SecretOpener;
  /** Absent: one of its own, still shared by every revision. */
  passwordCache?: PasswordVerificationCache;
  digest?: CompileOptions['digest'];
  rateLimits?: { store: RateLimitStore | null; onStoreError?: (err: unknown) => void };
  tokens?: TokenDependencies;
}

/** What jwt-auth, oauth2-auth and the token service share across revisions. */
export interface TokenDependencies {
  opaqueTokens: OpaqueTokenLookup | null;
  /** This environment's own token issuers (jwt-auth's default). */
  issuers?: CompileOptions['issuers'];
  /** Revoked JWT ids shared by the environment's Gateways: jwt-auth and the token endpoints read them, revocation adds. */
  revokedJwts?: RevokedJwtIds | null;
  /** Keys that could not be imported (loud log; the revision serves without them). */
  onKeyProblems?: (problems: KeyRingProblem[]) => void;
}

/**
 * The revision this Gateway serves right now, and the one place a revision is built: routes,
 * chains, credential directory and key ring are compiled completely (the token indexes on
 * first use, from those same parts) before the new revision replaces the old one in a single
 * assignment, so a request — proxied or a token
 * call — sees one revision or the other, never a mix; requests already running keep the
 * objects they started with. config-sync/ feeds it snapshots; proxy/ and token-service/ read it.
 */
export class ActiveConfiguration {
  private serving: ServingRevision | null = null;
  /** Outlives revisions: verified passwords stay verified while their hash is unchanged. */
  readonly passwordCache: PasswordVerificationCache;

  constructor(
    private readonly pools: UpstreamPoolRegistry,
    private readonly metrics: GatewayMetrics,
    private readonly deps: ActivationDependencies = {},
  ) {
    this.passwordCache = deps.passwordCache ?? new PasswordVerificationCache();
  }

  get current(): ServingRevision | null {
    return this.serving;
  }

  /** Outlives revisions: the environment's revoked JWT ids (null where no token service runs). */
  get revokedJwts(): RevokedJwtIds | null {
    return this.deps.tokens?.revokedJwts ?? null;
  }

  get revision(): number | null {
    return this.serving?.snapshot.revision ?? null;
  }

  activate(snapshot: ConfigSnapshot): ServingRevision {
    const { secrets = null, tokens = null, rateLimits } = this.deps;
    const keyRing = this.openKeyRing(snapshot);
    const compiled = compileEnvironment(snapshot, {
      keyRing,
      opaqueTokens: tokens?.opaqueTokens ?? null,
      issuers: tokens?.issuers ?? null,
      revokedJwts: tokens?.revokedJwts ?? null,
      passwordCache: this.passwordCache,
      secrets,
      digest: this.deps.digest,
      rateLimitStore: rateLimits?.store ?? null,
      onRateLimitStoreError: (err) => {
        this.metrics.rateLimitStoreErrors.inc();
        rateLimits?.onStoreError?.(err);
      },
    });
    const routes = new Map<CompiledProxy, ProxyRoute>();
    for (const proxy of compiled.proxies) {
      const pool = proxy.unavailable || !proxy.upstreamOrigin ? null : this.pools.acquire(proxy.upstreamOrigin);
      routes.set(proxy, { proxy, pool, metrics: this.metrics.forProxy(proxy.name, proxy.basePath) });
    }
    const previous = this.serving;
    let tokenIndexes: TokenIndexes | undefined;
    const next: ServingRevision = Object.freeze({
      snapshot,
      compiled,
      keyRing,
      // Built on the revision's first token call, then kept: activation (what every proxied
      // request waits on after a change) pays nothing for them.
      get tokens() {
        return (tokenIndexes ??= buildTokenIndexes(snapshot, compiled.directory, keyRing, secrets, tokens?.revokedJwts ?? null));
      },
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
    const secrets = this.deps.secrets;
    if (!secrets || snapshot.signingKeys.length === 0) return SigningKeyRing.empty();
    const { ring, problems } = SigningKeyRing.fromSnapshot(snapshot.signingKeys, secrets);
    if (problems.length > 0) this.deps.tokens?.onKeyProblems?.(problems);
    return ring;
  }

  private releaseUnused(previous: ServingRevision | null, compiled: CompiledEnvironment): void {
    const seriesKey = (p: CompiledProxy) => `${p.name}\u0000${p.basePath}`;
    const kept = new Set(compiled.proxies.map(seriesKey));
    for (const p of previous?.compiled.proxies ?? []) if (!kept.has(seriesKey(p))) this.metrics.releaseProxy(p.name, p.basePath);
    this.pools.retainOnly(new Set(compiled.proxies.map((p) => p.upstreamOrigin).filter(Boolean)));
  }
}
