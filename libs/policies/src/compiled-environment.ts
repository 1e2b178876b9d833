import type { ConfigSnapshot, SnapshotProxy } from '@idm/config-bus';
import { PasswordVerificationCache } from './basic-auth/password-verification.cache';
import { BasePathRouter } from './base-path-router';
import { CredentialDirectory } from './credential-directory';
import { CredentialRulesStep } from './credential-rules/credential-rules';
import type { RateLimitStore } from './rate-limit/rate-limit.store';
import type { SigningKeyRing } from '@idm/tokens';
import type { OpaqueTokenLookup, PolicyCompileDeps } from './compile-dependencies';
import type { Policy, PolicyOutcome, PolicyRejection, PolicyResponse, RequestContext } from './policy';
import { LlmRoutePolicy } from './llm-route/policy';
import type { TokenQuotaStore } from './llm-route/token-quota.store';
import { PolicyConfigError } from './policy-config.error';
import { compilePolicy } from './policy-compilers';
import { normalizeHeaderName } from './reserved-upstream-headers';
import { validatePolicySpecs } from './validate-policy-specs';

export interface CompiledProxy {
  readonly id: string;
  readonly name: string;
  readonly projectId: string;
  readonly basePath: string;
  /** Parsed once: scheme://host:port of the upstream, the unit of connection pooling. */
  readonly upstreamOrigin: string;
  /** Path of the upstream URL without a trailing slash ("" for the root). */
  readonly upstreamPath: string;
  readonly policies: readonly Policy[];
  /** Type of the chain's first authenticating policy (what a success is recorded under); null when the proxy authenticates no one. */
  readonly authenticationPolicy: string | null;
  /**
   * Names of the upstream headers this proxy's policies may set (claim headers), normalized:
   * the Gateway drops a client's header of such a name. null when there are none.
   */
  readonly upstreamHeaderNames: ReadonlySet<string> | null;
  /**
   * Set when the proxy cannot serve (its chain or upstream did not compile): it fails closed
   * with this rejection instead of forwarding unauthenticated traffic.
   */
  readonly unavailable: PolicyRejection | null;
  /** 405 rejection (with Allow) for a method outside the proxy's list, undefined when allowed. */
  checkMethod(method: string): PolicyRejection | undefined;
  /** The proxy's llm-route policy (an LLM route: the Gateway reads and meters its calls); null for other proxies. */
  readonly llm: LlmRoutePolicy | null;
  /** Runs the chain in order; stops at the first rejection. Sync unless a policy must wait. */
  runPolicies(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome>;
  /** A policy reads the request body: the Gateway reads it whole (bounded) before the chain. */
  readonly readsRequestBody: boolean;
  /** Runs the response-phase policies (reverse order) on the upstream's answer read whole; null: none, stream it. */
  readonly runResponsePolicies: ((ctx: RequestContext, response: PolicyResponse) => Promise<PolicyOutcome>) | null;
}

export interface CompileProblem {
  proxyId: string;
  basePath: string;
  message: string;
}

export interface CompiledEnvironment {
  readonly environment: string;
  readonly revision: number;
  readonly proxies: readonly CompiledProxy[];
  /** Proxies that compiled to "unavailable", for the Gateway to log. */
  readonly problems: readonly CompileProblem[];
  /** The revision's credentials as the chains see them; the host's token service reads the same index. */
  readonly directory: CredentialDirectory;
  route(path: string): CompiledProxy | undefined;
}

export interface CompileOptions {
  now?: () => number;
  /** Pass one long-lived cache so verified passwords survive revision changes. */
  passwordCache?: PasswordVerificationCache;
  /** Counters for rate limits and quotas (per credential and the rate-limit policy). */
  rateLimitStore?: RateLimitStore | null;
  /** Counters for LLM token quotas (llm-route). */
  tokenQuotaStore?: TokenQuotaStore | null;
  /** Told about every failed store call (e.g. to count and log it). */
  onRateLimitStoreError?: (err: unknown) => void;
  /** Opens sealed snapshot values (digest HA1); without it digest-auth proxies fail closed. */
  secrets?: PolicyCompileDeps['secrets'];
  /** Digest nonce key and nonce-count store; without it digest-auth proxies fail closed. */
  digest?: PolicyCompileDeps['digest'];
  /** The revision's signing keys, opened by the host (jwt-auth verifies with them). */
  keyRing?: SigningKeyRing;
  /** Opaque token store for oauth2-auth. */
  opaqueTokens?: OpaqueTokenLookup | null;
  /** The environment's own token issuers and revoked JWT ids (jwt-auth). */
  issuers?: PolicyCompileDeps['issuers'];
  revokedJwts?: PolicyCompileDeps['revokedJwts'];
  /** DPoP replay cache and nonces (jwt-auth, oauth2-auth); without them DPoP-bound tokens are refused. */
  senderConstraint?: PolicyCompileDeps['senderConstraint'];
  /** Fetches partner JWKS for the JOSE policies (the host's, through its upstream policy); absent: a plain undici fetch. */
  fetchJwks?: PolicyCompileDeps['fetchJwks'];
  /** The revision's key managers, built by the host (jwt-auth and oauth2-auth accept their tokens). */
  keyManagers?: PolicyCompileDeps['keyManagers'];
  identitySources?: PolicyCompileDeps['identitySources'];
  /** Session store of the `oidc` policy; without it oidc proxies fail closed. */
  oidcSessions?: PolicyCompileDeps['oidcSessions'];
}

/** What credential rules are compiled with (rate limits and quotas per credential). */
export function credentialRulesDeps(options: Pick<CompileOptions, 'rateLimitStore' | 'onRateLimitStoreError'>) {
  return { rateLimitStore: options.rateLimitStore ?? null, onRateLimitStoreError: options.onRateLimitStoreError ?? (() => {}) };
}

/**
 * Compiles proxies one at a time against one credential directory and one set of options (key
 * ring included): a host that keeps its compiled proxies by id recompiles only the proxies that
 * changed and reassembles the router. Chains hold the directory itself, so credential changes
 * applied to it reach every chain without recompiling any.
 */
export class EnvironmentCompiler {
  private readonly deps: Omit<PolicyCompileDeps, 'proxy'>;

  constructor(
    environment: string,
    readonly directory: CredentialDirectory,
    options: CompileOptions = {},
  ) {
    this.deps = {
      directory,
      passwordCache: options.passwordCache ?? new PasswordVerificationCache(),
      now: options.now ?? Date.now,
      ...credentialRulesDeps(options),
      tokenQuotaStore: options.tokenQuotaStore ?? null,
      secrets: options.secrets ?? null,
      digest: options.digest ?? null,
      keyRing: options.keyRing,
      opaqueTokens: options.opaqueTokens ?? null,
      issuers: options.issuers ?? null,
      revokedJwts: options.revokedJwts ?? null,
      senderConstraint: options.senderConstraint ?? null,
      fetchJwks: options.fetchJwks,
      keyManagers: options.keyManagers ?? null,
      identitySources: options.identitySources ?? null,
      oidcSessions: options.oidcSessions ?? null,
      environment,
    };
  }

  compileProxy(proxy: SnapshotProxy): CompiledProxy {
    return compileProxy(proxy, { ...this.deps, proxy, projectSecrets: new Map((proxy.secrets ?? []).map((s) => [s.id, s])) });
  }
}

/** The proxies that compiled to "unavailable", for the host to log. */
export function compileProblems(proxies: Iterable<CompiledProxy>): CompileProblem[] {
  const problems: CompileProblem[] = [];
  for (const p of proxies) if (p.unavailable) problems.push({ proxyId: p.id, basePath: p.basePath, message: p.unavailable.message });
  return problems;
}

/**
 * Turns a snapshot into what the request path needs: routes, method sets, compiled chains and
 * the credential directory, all at once (the Gateway keeps its parts and updates them per change).
 */
export function compileEnvironment(snapshot: ConfigSnapshot, options: CompileOptions = {}): CompiledEnvironment {
  const directory = CredentialDirectory.fromSnapshot(snapshot, credentialRulesDeps(options));
  const compiler = new EnvironmentCompiler(snapshot.environment, directory, options);
  const proxies = snapshot.proxies.map((proxy) => compiler.compileProxy(proxy));
  const router = new BasePathRouter(proxies.map((p) => [p.basePath, p] as const));
  return Object.freeze({
    environment: snapshot.environment,
    revision: snapshot.revision,
    proxies: Object.freeze(proxies),
    problems: Object.freeze(compileProblems(proxies)),
    directory,
    route: (path: string) => router.match(path),
  });
}

function compileProxy(proxy: SnapshotProxy, deps: PolicyCompileDeps): CompiledProxy {
  const methods = new Set(proxy.methods.map((m) => m.toUpperCase()));
  const methodNotAllowed: PolicyRejection = Object.freeze({
    status: 405,
    code: 'method_not_allowed',
    message: `This API accepts ${[...methods].join(', ')}`,
    headers: Object.freeze({ allow: [...methods].join(', ') }),
  });
  let policies: Policy[] = [];
  let unavailable: PolicyRejection | null = null;
  let upstream = { origin: '', path: '' };
  try {
    upstream = parseUpstream(proxy.upstreamUrl);
    policies = validatePolicySpecs(proxy.policies).map((spec) => compilePolicy(spec, deps));
    const firstAuthentication = policies.findIndex((p) => p.authenticates === true);
    if (firstAuthentication >= 0) policies.splice(firstAuthentication + 1, 0, new CredentialRulesStep(proxy, deps.now));
  } catch (err) {
    const reason = err instanceof PolicyConfigError || err instanceof TypeError ? err.message : String(err);
    unavailable = Object.freeze({ status: 503, code: 'proxy_unavailable', message: `This API is misconfigured on the gateway: ${reason}` });
  }
  return Object.freeze({
    id: proxy.id,
    name: proxy.name,
    projectId: proxy.projectId,
    basePath: proxy.basePath,
    upstreamOrigin: upstream.origin,
    upstreamPath: upstream.path,
    policies: Object.freeze(policies),
    authenticationPolicy: policies.find((p) => p.authenticates === true)?.type ?? null,
    llm: (policies.find((p) => p instanceof LlmRoutePolicy) as LlmRoutePolicy | undefined) ?? null,
    upstreamHeaderNames: upstreamHeaderNamesOf(policies),
    unavailable,
    checkMethod: (method: string) => (methods.has(method) ? undefined : methodNotAllowed),
    runPolicies: (ctx: RequestContext) => runPolicies(policies, ctx, 0),
    readsRequestBody: policies.some((p) => p.readsRequestBody === true),
    runResponsePolicies: responsePhaseOf(policies),
  });
}

function responsePhaseOf(policies: readonly Policy[]): CompiledProxy['runResponsePolicies'] {
  const phase = policies.filter((p) => p.onResponse !== undefined).reverse();
  if (phase.length === 0) return null;
  return async (ctx, response) => {
    for (const policy of phase) {
      const outcome = await policy.onResponse!(ctx, response);
      if (outcome !== undefined) return outcome;
    }
    return undefined;
  };
}

function upstreamHeaderNamesOf(policies: readonly Policy[]): ReadonlySet<string> | null {
  const names = policies.flatMap((p) => p.upstreamHeaderNames ?? []).map(normalizeHeaderName);
  return names.length === 0 ? null : new Set(names);
}

function parseUpstream(upstreamUrl: string): { origin: string; path: string } {
  const url = new URL(upstreamUrl); // throws TypeError on garbage
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`upstream ${upstreamUrl} is not http(s)`);
  return { origin: url.origin, path: url.pathname.replace(/\/+$/, '') };
}

function runPolicies(policies: readonly Policy[], ctx: RequestContext, from: number): PolicyOutcome | Promise<PolicyOutcome> {
  for (let i = from; i < policies.length; i++) {
    ctx.policy = policies[i].type;
    const outcome = policies[i].execute(ctx);
    if (outcome === undefined) continue;
    if (outcome instanceof Promise) return outcome.then((result) => (result === undefined ? runPolicies(policies, ctx, i + 1) : result));
    return outcome;
  }
  return undefined;
}
