import type { SnapshotKeyManager, SnapshotSecret } from '@idm/config-bus';
import type { UpstreamPolicy } from '@idm/domain';
import type { IssuerVerdict, KeyManagerDirectory, TrustedIssuer } from '@idm/policies';
import type { Cluster, Redis } from 'ioredis';
import { ExternalIssuer, type HmacKey } from './external-issuer';
import { IntrospectionClient, DEFAULT_INTROSPECTION_TIMING, type IntrospectionTiming } from './introspection-client';
import { DEFAULT_ISSUER_HTTP_LIMITS, IssuerHttp, IssuerHttpError, type IssuerHttpLimits } from './issuer-http';
import { DEFAULT_JWKS_TIMING, JwksCache, type JwksTiming } from './jwks-cache';

export interface KeyManagerRuntimeOptions {
  /** Shared introspection cache; null: each Gateway asks for itself. */
  redis: Redis | Cluster | null;
  /** Opens the sealed client secret, shared secret and TLS client key. */
  secrets: { open(sealed: string): string } | null;
  /** The outbound address policy of proxy upstreams; key manager endpoints are held to it too. */
  upstreamPolicy: UpstreamPolicy;
  jwks?: Partial<JwksTiming>;
  introspection?: Partial<IntrospectionTiming>;
  http?: Partial<IssuerHttpLimits>;
  now?: () => number;
  /** A key manager's endpoint failed (logged by the host; the Gateway keeps serving what it has). */
  onError?: (keyManager: string, err: Error) => void;
}

interface Running {
  fingerprint: string;
  issuer: TrustedIssuer;
  http: IssuerHttp | null;
}

const NO_TOKEN: IssuerVerdict = Object.freeze({ ok: false, unavailable: false });

/**
 * The Gateway's key managers: one runtime per key manager (HTTP agent, JWKS cache, introspection
 * client), built when its published entry first appears and kept, caches and all, across
 * revisions while the entry is unchanged; a changed entry starts afresh, a removed one is closed.
 * `directoryFor` gives each revision the lookup by id and by issuer its policies compile against.
 */
export class GatewayKeyManagers {
  private running = new Map<string, Running>();
  private readonly now: () => number;

  constructor(private readonly options: KeyManagerRuntimeOptions) {
    this.now = options.now ?? Date.now;
  }

  directoryFor(keyManagers: readonly SnapshotKeyManager[]): KeyManagerDirectory {
    const next = new Map<string, Running>();
    for (const config of keyManagers) {
      const fingerprint = JSON.stringify(config);
      const kept = this.running.get(config.id);
      next.set(config.id, kept?.fingerprint === fingerprint ? kept : this.start(config, fingerprint));
    }
    for (const [id, old] of this.running) if (next.get(id) !== old) void old.http?.close();
    this.running = next;
    const byId = new Map([...next].map(([id, r]) => [id, r.issuer]));
    const byIssuer = new Map([...next.values()].filter((r) => r.issuer.issuer !== null).map((r) => [r.issuer.issuer!, r.issuer]));
    return { byId: (id) => byId.get(id), byIssuer: (iss) => byIssuer.get(iss) };
  }

  /** The runtime of one key manager (tests read its JWKS and introspection counters). */
  issuerOf(id: string): TrustedIssuer | undefined {
    return this.running.get(id)?.issuer;
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.values()].flatMap((r) => (r.http ? [r.http.close()] : [])));
    this.running.clear();
  }

  private timingOf(config: SnapshotKeyManager) {
    return timingFrom(config.timing, this.options);
  }

  private start(config: SnapshotKeyManager, fingerprint: string): Running {
    if (config.type === 'builtin' || config.issuer === null) return { fingerprint, issuer: builtinIssuer(config), http: null };
    const onError = (err: Error) => this.options.onError?.(config.name, err);
    const open = (sealed: string | null): string | null => {
      if (sealed === null) return null;
      try {
        return this.options.secrets?.open(sealed) ?? null;
      } catch (err) {
        onError(new Error(`a sealed secret of key manager ${config.name} cannot be opened: ${(err as Error).message}`));
        return null;
      }
    };
    const timing = this.timingOf(config);
    const http = new IssuerHttp(
      { ca: config.tls.caPem ?? undefined, cert: config.tls.clientCertificatePem ?? undefined, key: open(config.tls.clientKey) ?? undefined },
      timing.http,
      this.options.upstreamPolicy,
    );
    const endpoints = new DiscoveredEndpoints(config, http, this.now, timing.jwks.retryAfterErrorMs);
    const jwks = config.tokenTypes !== 'opaque' && (config.jwksUri || config.discoveryUrl) ? new JwksCache(() => endpoints.jwksUri(), http, timing.jwks, this.now, onError) : null;
    const clientSecret = config.clientSecretRef ? clientSecretOf(config.clientSecretRef, open) : open(config.clientSecret);
    const introspection =
      config.tokenTypes !== 'jwt' && config.clientId !== null && clientSecret !== null
        ? new IntrospectionClient(
            config.id,
            () => endpoints.introspectionEndpoint(),
            { id: config.clientId, secret: clientSecret },
            http,
            this.options.redis,
            timing.introspection,
            this.now,
            onError,
          )
        : null;
    const shared = open(config.sharedSecret);
    const hmacKeys = config.sharedSecretRef ? hmacKeysOf(config.sharedSecretRef, open) : shared === null ? [] : [{ key: Buffer.from(shared, 'utf8'), kid: null, retiresAt: null }];
    const issuer = new ExternalIssuer(config, { jwks, introspection, hmacKeys, now: this.now });
    return { fingerprint, issuer, http };
  }
}

/**
 * The introspection client secret a project secret (shared-secret) holds: its current version's
 * bytes as UTF-8. A rotation republishes the key manager, so the new one is used from then on.
 */
function clientSecretOf(ref: SnapshotSecret, open: (sealed: string | null) => string | null): string | null {
  const current = ref.versions.find((v) => v.retiresAt === null) ?? ref.versions[ref.versions.length - 1];
  return sharedBytes(open(current?.sealed ?? null))?.toString('utf8') ?? null;
}

/**
 * The HS* keys a project secret (shared-secret) holds: the bytes of every published version, each
 * until its retiresAt (the Manager publishes only usable ones; the issuer drops them as they retire).
 */
function hmacKeysOf(ref: SnapshotSecret, open: (sealed: string | null) => string | null): HmacKey[] {
  return ref.versions.flatMap((v) => {
    const key = sharedBytes(open(v.sealed));
    return key === null || key.length === 0 ? [] : [{ key, kid: v.kid, retiresAt: v.retiresAt === null ? null : Date.parse(v.retiresAt) }];
  });
}

/** A shared-secret version's opened JWK (`{"kty":"oct","k":...}`) as its raw bytes. */
function sharedBytes(jwk: string | null): Buffer | null {
  if (jwk === null) return null;
  try {
    const k = (JSON.parse(jwk) as { k?: unknown }).k;
    return typeof k === 'string' ? Buffer.from(k, 'base64url') : null;
  } catch {
    return null;
  }
}

/**
 * The key manager's own timing settings (published with it, validated by the Manager), over the
 * host's options, over the defaults. An entry without them (published before they existed) gets
 * the host's.
 */
function timingFrom(t: Partial<Record<string, number>> | undefined, options: KeyManagerRuntimeOptions) {
  const seconds = (name: string) => (t?.[name] === undefined ? undefined : t[name]! * 1000);
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const jwks: JwksTiming = {
    ...DEFAULT_JWKS_TIMING,
    ...options.jwks,
    ...defined({
      minTtlMs: seconds('jwksMinTtlSeconds'),
      maxTtlMs: seconds('jwksMaxTtlSeconds'),
      defaultTtlMs: seconds('jwksDefaultTtlSeconds'),
      refreshAheadRatio: t?.refreshAheadPercent === undefined ? undefined : t.refreshAheadPercent / 100,
      retryAfterErrorMs: seconds('retryAfterErrorSeconds'),
      unknownKidIntervalMs: seconds('unknownKidIntervalSeconds'),
    }),
  };
  const introspection: IntrospectionTiming = {
    ...DEFAULT_INTROSPECTION_TIMING,
    ...options.introspection,
    ...defined({ maxPositiveTtlMs: seconds('introspectionMaxTtlSeconds'), negativeTtlMs: seconds('introspectionNegativeTtlSeconds') }),
  };
  const http: IssuerHttpLimits = { ...DEFAULT_ISSUER_HTTP_LIMITS, ...options.http, ...defined({ timeoutMs: t?.timeoutMs, maxBytes: t?.maxResponseBytes }) };
  return { jwks, introspection, http };
}

/** Our own token service listed as a key manager: the policies check its tokens themselves. */
function builtinIssuer(config: SnapshotKeyManager): TrustedIssuer {
  return Object.freeze({
    id: config.id,
    name: config.name,
    projectId: config.projectId,
    builtin: true,
    issuer: null,
    enabled: config.enabled,
    acceptsJwt: false,
    acceptsOpaque: false,
    claimMappings: { ...config.claimMappings },
    verifyJwt: () => NO_TOKEN,
    stillTrusts: () => false,
    introspect: () => Promise.resolve(NO_TOKEN),
  });
}

/**
 * jwks_uri and introspection_endpoint: the configured ones, else from the discovery document
 * (RFC 8414 / OpenID Connect Discovery), fetched once when first needed (again after a failure,
 * not before a pause); its `issuer` must be exactly the configured one (RFC 8414 §3.3).
 */
class DiscoveredEndpoints {
  private document: Promise<Record<string, unknown>> | null = null;
  private failedAt = -Infinity;

  constructor(
    private readonly config: SnapshotKeyManager,
    private readonly http: IssuerHttp,
    private readonly now: () => number,
    private readonly retryAfterMs: number,
  ) {}

  jwksUri(): Promise<string> {
    return this.config.jwksUri !== null ? Promise.resolve(this.config.jwksUri) : this.fromDocument('jwks_uri');
  }

  introspectionEndpoint(): Promise<string> {
    return this.config.introspectionEndpoint !== null ? Promise.resolve(this.config.introspectionEndpoint) : this.fromDocument('introspection_endpoint');
  }

  private async fromDocument(field: string): Promise<string> {
    if (this.config.discoveryUrl === null) throw new IssuerHttpError(`key manager ${this.config.name} has no ${field} and no discovery URL`);
    if (this.document === null) {
      if (this.now() - this.failedAt < this.retryAfterMs) throw new IssuerHttpError(`discovery of ${this.config.name} failed recently`);
      this.document = this.load().catch((err: Error) => {
        this.document = null;
        this.failedAt = this.now();
        throw err;
      });
    }
    const value = (await this.document)[field];
    if (typeof value !== 'string' || !/^https?:\/\//.test(value)) throw new IssuerHttpError(`the discovery document of ${this.config.name} has no http(s) ${field}`);
    return value;
  }

  private async load(): Promise<Record<string, unknown>> {
    const { body } = await this.http.json(this.config.discoveryUrl!);
    const document = body as Record<string, unknown> | null;
    if (typeof document !== 'object' || document === null) throw new IssuerHttpError('the discovery document is not a JSON object');
    if (document.issuer !== this.config.issuer) throw new IssuerHttpError(`the discovery document names issuer ${String(document.issuer)}, not ${this.config.issuer}`);
    return document;
  }
}
