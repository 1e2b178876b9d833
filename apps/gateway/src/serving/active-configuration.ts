import type { ConfigChangedMessage, ConfigSnapshot, SnapshotIdentitySource, SnapshotKeyManager, SnapshotProxy, SnapshotSigningKey } from '@idm/config-bus';
import {
  BasePathRouter,
  compileProblems,
  credentialRulesDeps,
  CredentialDirectory,
  EnvironmentCompiler,
  PasswordVerificationCache,
  type CompileOptions,
  type CompileProblem,
  type KeyManagerDirectory,
  type OpaqueTokenLookup,
  type RateLimitStore,
  type TokenQuotaStore,
} from '@idm/policies';
import { SigningKeyRing, type KeyRingProblem, type RevokedJwtIds, type SecretOpener } from '@idm/tokens';
import type { Pool } from 'undici';
import type { GatewayIdentitySources } from '../identity-sources/gateway-identity-sources';
import type { GatewayKeyManagers } from '../issuers/gateway-key-managers';
import type { GatewayMetrics, ProxyMetrics } from '../metrics/gateway-metrics';
import { nextTurn, paced, runNow, runPaced, type Steps } from './paced-steps';
import type { ProxyRoute, ServingRevision } from './serving-revision';
import { TokenClients } from './token-clients';
import { buildTokenIndexes, type TokenIndexes } from './token-indexes';

/**
 * Entities (credentials and proxies added or removed) applied in one turn of the event loop by
 * `applyPaced`, unless one change alone carries more (up to 2,000: a change is applied whole).
 * ~1,000 credential upserts take ~15-20 ms on the bench machine (bench/README.md, #13).
 */
export const APPLY_SLICE_ENTITIES = 1_000;

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
  senderConstraint?: CompileOptions['senderConstraint'];
  /** Sessions of the `oidc` policy (Redis); absent: oidc proxies fail closed. */
  oidcSessions?: CompileOptions['oidcSessions'];
  /** The clock of policy checks (expiry, idle timeouts); absent: Date.now. Injectable for tests. */
  now?: () => number;
  /** `tokenQuotas`: LLM token counters (llm-route), on the same connection. */
  rateLimits?: { store: RateLimitStore | null; tokenQuotas?: TokenQuotaStore | null; onStoreError?: (err: unknown) => void };
  tokens?: TokenDependencies;
  /** How JOSE policies fetch partner JWKS (through the upstream policy); absent: a plain fetch. */
  fetchJwks?: CompileOptions['fetchJwks'];
  /** Runtimes of the key managers (JWKS, introspection); absent: proxies listing key managers fail closed. */
  keyManagers?: GatewayKeyManagers;
  /** Checkers of the identity sources (LDAP, SQL); absent: proxies naming identity sources fail closed. */
  identitySources?: GatewayIdentitySources;
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

/** What changes only with the signing keys, the key managers or a full load: the directory object, its token view, the key ring and the compiler bound to them. */
interface Foundation {
  readonly directory: CredentialDirectory;
  readonly clients: TokenClients;
  readonly signingKeys: readonly SnapshotSigningKey[];
  readonly keyManagers: readonly SnapshotKeyManager[];
  readonly identitySources: readonly SnapshotIdentitySource[];
  readonly keyRing: SigningKeyRing;
  readonly trustedIssuers: KeyManagerDirectory | null;
  readonly compiler: EnvironmentCompiler;
}

/** What changes with the proxies: their routes (compiled chains) by id, the router, and the token indexes built from them. */
interface RouteView {
  readonly proxies: ReadonlyMap<string, SnapshotProxy>;
  readonly routes: ReadonlyMap<string, ProxyRoute>;
  readonly router: BasePathRouter<ProxyRoute>;
  readonly problems: readonly CompileProblem[];
  readonly tokens: () => TokenIndexes;
}

/**
 * The revision this Gateway serves right now, built and changed in one place. A full load
 * (`load`, or `activate` at once) builds every part anew, paced so the event loop keeps serving
 * the previous revision meanwhile, then swaps the new one in with a single assignment. A change
 * (`apply`) touches only what it names: credentials are upserted into / removed from the
 * directory in place; changed proxies are recompiled (the others keep their compiled chains) and
 * the router is rebuilt; new signing keys reopen the key ring and recompile every chain (rare).
 * A change's entries are changed and published in one turn of the event loop, between requests,
 * so no request sees half of a change (a replay of many changes, `applyPaced`, takes one slice of
 * them per turn and publishes each slice's revision; routes it rebuilds are built in paced steps
 * before, while the previous ones serve); one already
 * running keeps the directory entries and chains it holds (entries are replaced, never edited).
 * Callers run one change or load at a time (config-sync/ queues them).
 */
export class ActiveConfiguration {
  private serving: ServingRevision | null = null;
  private servingSince: number | null = null;
  private foundation: Foundation | null = null;
  private view: RouteView | null = null;
  /** Outlives revisions: verified passwords stay verified while their hash is unchanged. */
  readonly passwordCache: PasswordVerificationCache;
  private readonly compileOptions: CompileOptions;

  constructor(
    private readonly pools: UpstreamPoolRegistry,
    private readonly metrics: GatewayMetrics,
    private readonly deps: ActivationDependencies = {},
  ) {
    this.passwordCache = deps.passwordCache ?? new PasswordVerificationCache();
    const { tokens, rateLimits } = deps;
    this.compileOptions = {
      opaqueTokens: tokens?.opaqueTokens ?? null,
      issuers: tokens?.issuers ?? null,
      revokedJwts: tokens?.revokedJwts ?? null,
      passwordCache: this.passwordCache,
      secrets: deps.secrets ?? null,
      digest: deps.digest,
      senderConstraint: deps.senderConstraint ?? null,
      oidcSessions: deps.oidcSessions ?? null,
      ...(deps.now !== undefined && { now: deps.now }),
      fetchJwks: deps.fetchJwks,
      rateLimitStore: rateLimits?.store ?? null,
      tokenQuotaStore: rateLimits?.tokenQuotas ?? null,
      onRateLimitStoreError: (err) => {
        this.metrics.rateLimitStoreErrors.inc();
        rateLimits?.onStoreError?.(err);
      },
    };
  }

  get current(): ServingRevision | null {
    return this.serving;
  }

  /** Outlives revisions: the environment's revoked JWT ids (null where no token service runs). */
  get revokedJwts(): RevokedJwtIds | null {
    return this.deps.tokens?.revokedJwts ?? null;
  }

  get revision(): number | null {
    return this.serving?.revision ?? null;
  }

  /** When the served revision became current (epoch ms; null before the first): how fresh this Gateway is, for its heartbeat. */
  get appliedAt(): number | null {
    return this.servingSince;
  }

  /** A whole snapshot, built at once (small environments, tests). */
  activate(snapshot: ConfigSnapshot): ServingRevision {
    return this.publish(snapshot, ...runNow(this.build(snapshot)));
  }

  /**
   * A whole snapshot, built in slices between which requests keep being served by the previous
   * revision. `directory`: the credentials already loaded into one from `newDirectory()` (then
   * `snapshot.credentials` is not read), so a full load never holds them all as objects.
   */
  async load(snapshot: ConfigSnapshot, directory?: CredentialDirectory): Promise<ServingRevision> {
    return this.publish(snapshot, ...(await runPaced(this.build(snapshot, directory))));
  }

  /** An empty credential directory for `load` to serve, compiling credentials with this Gateway's dependencies. */
  newDirectory(): CredentialDirectory {
    return new CredentialDirectory([], { rulesDeps: credentialRulesDeps(this.compileOptions) });
  }

  /**
   * Applies changes that follow the served revision, in order, touching only what they name
   * (each must be the successor of the one before; config-sync checks). Published as one
   * revision: that of the last change. All in one turn of the event loop: for a few changes
   * (a delta from the bus); a replay of many goes through `applyPaced`.
   */
  apply(changes: readonly ConfigChangedMessage[]): ServingRevision {
    return runNow(this.applySteps(changes));
  }

  /**
   * `apply` for a replay of any length (a Gateway catching up from the change log, possibly
   * hundreds of changes of up to 2,000 entities each while a Manager reconciles): the changes
   * are applied in slices of at most APPLY_SLICE_ENTITIES entities (a change is never split),
   * each published as the revision of its last change, with a turn of the event loop between
   * two slices. So no turn applies more than one slice, and every request sees whole changes
   * and the revision that says which (issue #13: no stall over 50 ms).
   */
  async applyPaced(changes: readonly ConfigChangedMessage[]): Promise<ServingRevision> {
    let served = this.serving;
    if (!served) throw new Error('no served revision to apply a change to');
    let first = true;
    for (const slice of applySlices(changes)) {
      if (!first) await nextTurn();
      first = false;
      served = await runPaced(this.applySteps(slice));
    }
    return served;
  }

  /** The work of `apply`: the routes rebuilt in paced steps when proxies or keys changed, then the entries changed in place and the revision published, in one step. */
  private *applySteps(changes: readonly ConfigChangedMessage[]): Steps<ServingRevision> {
    const served = this.serving;
    let foundation = this.foundation;
    let view = this.view;
    if (!served || !foundation || !view) throw new Error('no served revision to apply a change to');
    const last = changes.at(-1);
    if (!last) return served;
    let proxies: Map<string, SnapshotProxy> | null = null;
    const touched = new Set<string>();
    let signingKeys: readonly SnapshotSigningKey[] | null = null;
    let keyManagers: readonly SnapshotKeyManager[] | null = null;
    let identitySources: readonly SnapshotIdentitySource[] | null = null;
    for (const change of changes) {
      if (change.proxies.removed.length > 0 || change.proxies.upserted.length > 0) {
        // Copied, not edited: revisions already handed out keep their proxies.
        proxies ??= new Map(view.proxies);
        for (const id of change.proxies.removed) proxies.delete(id);
        for (const proxy of change.proxies.upserted) proxies.set(proxy.id, proxy);
        for (const id of [...change.proxies.removed, ...change.proxies.upserted.map((p) => p.id)]) touched.add(id);
      }
      signingKeys = change.signingKeys ?? signingKeys;
      keyManagers = change.keyManagers ?? keyManagers;
      identitySources = change.identitySources ?? identitySources;
    }
    if (signingKeys || keyManagers || identitySources) {
      // Rare: every chain is recompiled against the new keys, key managers or identity sources
      // (paced under applyPaced: the previous chains serve meanwhile).
      foundation = this.foundationOf(
        served.environment,
        foundation.directory,
        foundation.clients,
        signingKeys ?? foundation.signingKeys,
        keyManagers ?? foundation.keyManagers,
        identitySources ?? foundation.identitySources,
      );
      view = yield* this.routeView(proxies ?? view.proxies, foundation, null);
    } else if (proxies) {
      view = yield* this.routeView(proxies, foundation, { previous: view, touched });
    }
    // Then, in the turn that publishes them, the entries (the routes above read the directory
    // only when a request runs): a request sees the changes whole or not at all.
    for (const change of changes) {
      for (const id of change.credentials.removed) foundation.directory.remove(id);
      for (const credential of change.credentials.upserted) foundation.directory.upsert(credential);
    }
    return this.publish({ environment: served.environment, epoch: last.epoch, revision: last.revision }, foundation, view);
  }

  private *build(snapshot: ConfigSnapshot, loaded?: CredentialDirectory): Steps<[Foundation, RouteView]> {
    let directory = loaded;
    if (!directory) {
      const filled = (directory = this.newDirectory());
      yield* paced(snapshot.credentials, (credential) => filled.upsert(credential));
    }
    const foundation = this.foundationOf(snapshot.environment, directory, new TokenClients(directory), snapshot.signingKeys, snapshot.keyManagers, snapshot.identitySources ?? []);
    const view = yield* this.routeView(new Map(snapshot.proxies.map((p) => [p.id, p])), foundation, null);
    return [foundation, view];
  }

  private foundationOf(
    environment: string,
    directory: CredentialDirectory,
    clients: TokenClients,
    signingKeys: readonly SnapshotSigningKey[],
    keyManagers: readonly SnapshotKeyManager[],
    identitySources: readonly SnapshotIdentitySource[],
  ): Foundation {
    const keyRing = this.openKeyRing(signingKeys);
    const keyManagerDirectory = this.deps.keyManagers?.directoryFor(keyManagers) ?? null;
    const sources = this.deps.identitySources?.directoryFor(identitySources) ?? null;
    const compiler = new EnvironmentCompiler(environment, directory, { ...this.compileOptions, keyRing, keyManagers: keyManagerDirectory, identitySources: sources });
    return { directory, clients, signingKeys, keyManagers, identitySources, keyRing, trustedIssuers: keyManagerDirectory, compiler };
  }

  /** Routes for `proxies`: those not `touched` since `reuse.previous` keep their compiled route, the others are compiled. */
  private *routeView(proxies: ReadonlyMap<string, SnapshotProxy>, foundation: Foundation, reuse: { previous: RouteView; touched: ReadonlySet<string> } | null): Steps<RouteView> {
    const routes = new Map<string, ProxyRoute>();
    yield* paced(proxies.values(), (proxy) => {
      const kept = reuse && !reuse.touched.has(proxy.id) ? reuse.previous.routes.get(proxy.id) : undefined;
      routes.set(proxy.id, kept ?? this.routeFor(foundation.compiler, proxy));
    });
    // The router and the problems read every route (10,000 at scale): a turn of their own, not
    // the last compile slice's nor the one that publishes.
    yield;
    const router = new BasePathRouter([...routes.values()].map((r) => [r.proxy.basePath, r] as const));
    const problems = Object.freeze(compileProblems([...routes.values()].map((r) => r.proxy)));
    yield;
    const { secrets = null, tokens = null } = this.deps;
    let tokenIndexes: TokenIndexes | undefined;
    return {
      proxies,
      routes,
      router,
      problems,
      // Built on the first token call after a proxy or key change, then kept: a change (what
      // every proxied request waits on) pays nothing for them.
      tokens: () => (tokenIndexes ??= buildTokenIndexes(proxies, foundation.clients, foundation.keyRing, secrets, tokens?.revokedJwts ?? null)),
    };
  }

  private routeFor(compiler: EnvironmentCompiler, snapshotProxy: SnapshotProxy): ProxyRoute {
    const proxy = compiler.compileProxy(snapshotProxy);
    const pool = proxy.unavailable || !proxy.upstreamOrigin ? null : this.pools.acquire(proxy.upstreamOrigin);
    return Object.freeze({ proxy, pool, metrics: this.metrics.forProxy(proxy.name, proxy.basePath) });
  }

  /** The one assignment that makes a revision current. */
  private publish({ environment, epoch, revision }: Pick<ConfigSnapshot, 'environment' | 'epoch' | 'revision'>, foundation: Foundation, view: RouteView): ServingRevision {
    const previousView = this.view;
    const next: ServingRevision = Object.freeze({
      environment,
      epoch,
      revision,
      proxies: view.proxies,
      signingKeys: foundation.signingKeys,
      directory: foundation.directory,
      problems: view.problems,
      keyRing: foundation.keyRing,
      trustedIssuers: foundation.trustedIssuers,
      get tokens() {
        return view.tokens();
      },
      route: (path: string) => view.router.match(path),
      routeOf: (proxyId: string) => view.routes.get(proxyId),
    });
    if (this.serving?.revision !== revision || this.serving.epoch !== epoch) this.servingSince = Date.now();
    this.serving = next;
    this.foundation = foundation;
    this.view = view;
    this.metrics.configRevision.set(revision);
    if (previousView !== view) this.releaseUnused(previousView, view);
    return next;
  }

  private openKeyRing(signingKeys: readonly SnapshotSigningKey[]): SigningKeyRing {
    const secrets = this.deps.secrets;
    if (!secrets || signingKeys.length === 0) return SigningKeyRing.empty();
    const { ring, problems } = SigningKeyRing.fromSnapshot([...signingKeys], secrets);
    if (problems.length > 0) this.deps.tokens?.onKeyProblems?.(problems);
    return ring;
  }

  /**
   * Drops the metric series and upstream pools no route of `view` uses. In the turn that
   * publishes, so by identity (a route of the same name and base path holds the same series
   * object, see GatewayMetrics.forProxy), not by building a key string per route.
   */
  private releaseUnused(previous: RouteView | null, view: RouteView): void {
    const series = new Set<ProxyMetrics>();
    const origins = new Set<string>();
    for (const r of view.routes.values()) {
      series.add(r.metrics);
      if (r.proxy.upstreamOrigin) origins.add(r.proxy.upstreamOrigin);
    }
    for (const r of previous?.routes.values() ?? []) if (!series.has(r.metrics)) this.metrics.releaseProxy(r.proxy.name, r.proxy.basePath);
    this.pools.retainOnly(origins);
  }
}

const entitiesOf = (c: ConfigChangedMessage) => c.credentials.upserted.length + c.credentials.removed.length + c.proxies.upserted.length + c.proxies.removed.length;

/** Consecutive changes grouped up to APPLY_SLICE_ENTITIES entities (a bigger change alone). */
export function* applySlices(changes: readonly ConfigChangedMessage[]): Generator<ConfigChangedMessage[]> {
  let slice: ConfigChangedMessage[] = [];
  let entities = 0;
  for (const change of changes) {
    const n = entitiesOf(change);
    if (slice.length > 0 && entities + n > APPLY_SLICE_ENTITIES) {
      yield slice;
      slice = [];
      entities = 0;
    }
    slice.push(change);
    entities += n;
  }
  if (slice.length > 0) yield slice;
}
