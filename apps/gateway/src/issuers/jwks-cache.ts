import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { maxAgeSeconds, type IssuerHttp } from './issuer-http';

/** How long fetched keys are trusted and how often the issuer may be asked. */
export interface JwksTiming {
  /** Cache-Control max-age is honoured within [min, max]; without one, `default`. */
  minTtlMs: number;
  maxTtlMs: number;
  defaultTtlMs: number;
  /** A refresh starts (in the background) this share of the TTL before expiry. */
  refreshAheadRatio: number;
  /** After a failed fetch, the next try waits this long; the old keys keep serving meanwhile (stale-if-error). */
  retryAfterErrorMs: number;
  /** An unknown `kid` triggers at most one fetch per this interval. */
  unknownKidIntervalMs: number;
}

export const DEFAULT_JWKS_TIMING: JwksTiming = {
  minTtlMs: 60_000,
  maxTtlMs: 24 * 3600_000,
  defaultTtlMs: 10 * 60_000,
  refreshAheadRatio: 0.2,
  retryAfterErrorMs: 5_000,
  unknownKidIntervalMs: 30_000,
};

export interface JwksKey {
  readonly key: KeyObject;
  /** The JWK's `alg`, when it names one: the token's must then be the same. */
  readonly alg: string | undefined;
}

/**
 * One issuer's JWKS, kept in memory: served from the cache while fresh; refreshed in the
 * background before it expires; kept (stale) while the issuer is down, retried after a pause;
 * refetched when a token names an unknown `kid`, but at most once per interval, so a flood of
 * random kids costs the issuer at most one request per interval and fails closed otherwise.
 * Concurrent fetches are one.
 */
export class JwksCache {
  private keys = new Map<string, JwksKey>();
  private loaded = false;
  private expiresAt = 0;
  private refreshAt = 0;
  private retryAt = 0;
  private lastUnknownKidFetch = -Infinity;
  private inflight: Promise<void> | null = null;
  /** Fetches started (tests and metrics read it). */
  fetches = 0;

  constructor(
    private readonly uri: () => Promise<string>,
    private readonly http: IssuerHttp,
    private readonly timing: JwksTiming = DEFAULT_JWKS_TIMING,
    private readonly now: () => number = Date.now,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** True once a fetch succeeded (its keys may be stale now): false means the endpoint never answered a usable set. */
  get everLoaded(): boolean {
    return this.loaded;
  }

  /** The key for `kid` from memory, starting a background refresh when due; undefined when not held. */
  get(kid: string): JwksKey | undefined {
    const now = this.now();
    if (this.loaded && now >= this.refreshAt && now >= this.retryAt) void this.refresh();
    return this.keys.get(kid);
  }

  /**
   * For a kid not held: resolves once a fetch allowed now has finished (the first load, or one per
   * `unknownKidIntervalMs`); false when no fetch may run now (the caller fails closed).
   */
  async fetchForUnknownKid(): Promise<boolean> {
    const now = this.now();
    if (this.loaded && now - this.lastUnknownKidFetch < this.timing.unknownKidIntervalMs && this.inflight === null) return false;
    if (!this.loaded && now < this.retryAt && this.inflight === null) return false;
    if (this.loaded && this.inflight === null) this.lastUnknownKidFetch = now;
    await this.refresh();
    return true;
  }

  /** True while `key` is what the cache holds for `kid` (a rotation that dropped it ends cached verdicts). */
  holds(kid: string, key: object): boolean {
    return this.keys.get(kid)?.key === key;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetch().finally(() => (this.inflight = null));
    return this.inflight;
  }

  private async fetch(): Promise<void> {
    this.fetches++;
    try {
      const { body, cacheControl } = await this.http.json(await this.uri());
      const keys = parseJwks(body, this.keys);
      const now = this.now();
      const ttl = Math.min(this.timing.maxTtlMs, Math.max(this.timing.minTtlMs, (maxAgeSeconds(cacheControl) ?? this.timing.defaultTtlMs / 1000) * 1000));
      this.keys = keys;
      this.loaded = true;
      // A fresh set answers for every kid for a while: an unknown one right after is not refetched.
      this.lastUnknownKidFetch = Math.max(this.lastUnknownKidFetch, now);
      this.expiresAt = now + ttl;
      this.refreshAt = this.expiresAt - ttl * this.timing.refreshAheadRatio;
      this.retryAt = 0;
    } catch (err) {
      // Stale-if-error: the keys held keep verifying; the issuer is asked again after a pause.
      this.retryAt = this.now() + this.timing.retryAfterErrorMs;
      this.onError(err as Error);
    }
  }
}

/**
 * The JWKS' signing keys by kid, imported once; a key whose JWK is unchanged keeps its KeyObject
 * (so verdicts cached with it stay valid across refreshes). Keys without kid, for encryption, or
 * that do not import are skipped.
 */
function parseJwks(body: unknown, previous: ReadonlyMap<string, JwksKey>): Map<string, JwksKey> {
  const list = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('the JWKS has no keys array');
  const keys = new Map<string, JwksKey>();
  for (const jwk of list.slice(0, 100) as Record<string, unknown>[]) {
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    if (jwk.d !== undefined || jwk.kty === 'oct') continue; // never a private or symmetric key from a JWKS
    const alg = typeof jwk.alg === 'string' ? jwk.alg : undefined;
    const fingerprint = JSON.stringify([jwk.kty, jwk.crv, jwk.n, jwk.e, jwk.x, jwk.y, alg]);
    const kept = previous.get(jwk.kid) as (JwksKey & { fingerprint?: string }) | undefined;
    if (kept?.fingerprint === fingerprint) {
      keys.set(jwk.kid, kept);
      continue;
    }
    try {
      keys.set(jwk.kid, Object.assign({ key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), alg }, { fingerprint }));
    } catch {
      // A key node:crypto cannot import cannot verify anything: skipped, not fatal for the rest.
    }
  }
  return keys;
}
