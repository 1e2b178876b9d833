import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type buildConnector } from 'undici';
import type { JwksKeySourceConfig } from './schema';

/** TLS material for the fetch: client certificate (mTLS) and the CAs the endpoint must chain to. */
export interface JwksTls {
  cert?: string;
  key?: string;
  ca?: string[];
}

/** Fetches one JWKS document; throws on any failure (status, size, timeout, not JSON). */
export type JwksFetcher = (url: string, options: { timeoutMs: number; tls: JwksTls }) => Promise<unknown>;

/** A JWKS larger than this is refused: a partner key set is a few kilobytes. */
const MAX_JWKS_BYTES = 256 * 1024;
/** An unknown kid refetches the set at most this often (a flood of random kids costs one fetch). */
const UNKNOWN_KID_REFETCH_MS = 30_000;

export class JwksUnavailableError extends Error {
  readonly code = 'IDM_JWKS_UNAVAILABLE';
}

/** Builds the connector of one fetch (the Gateway's checks the upstream policy on every address). */
export type JwksConnector = (origin: URL, options: buildConnector.BuildOptions) => buildConnector.connector;

/**
 * A fetcher on undici: no redirects, a timeout and a size limit, mTLS when configured, and the
 * connections made by `connector` when given (the Gateway passes its upstream-policy guard, so a
 * partner URL cannot reach loopback, metadata or the installation's own services).
 */
export function jwksFetcherWith(connector?: JwksConnector): JwksFetcher {
  return (url, options) => fetchJwks(url, options, connector);
}

async function fetchJwks(url: string, { timeoutMs, tls }: { timeoutMs: number; tls: JwksTls }, connector?: JwksConnector): Promise<unknown> {
  const tlsOptions = { cert: tls.cert, key: tls.key, ca: tls.ca, timeout: timeoutMs };
  const dispatcher = connector ? new Agent({ connect: connector(new URL(url), tlsOptions) }) : tls.cert || tls.ca ? new Agent({ connect: tlsOptions }) : undefined;
  try {
    const res = await request(url, {
      method: 'GET',
      headers: { accept: 'application/json, application/jwk-set+json' },
      dispatcher,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new JwksUnavailableError(`JWKS endpoint answered ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_JWKS_BYTES) {
        res.body.destroy();
        throw new JwksUnavailableError(`JWKS larger than ${MAX_JWKS_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } finally {
    await dispatcher?.close();
  }
}

/** Without a connector: what the policies use when their host gives none (unit tests). */
export const fetchJwksWithUndici: JwksFetcher = jwksFetcherWith();

/**
 * A partner's key set, fetched on first use and kept `cacheTtlSeconds`; past that it is fetched
 * again, and while the endpoint fails the last good set keeps serving (its keys did not become
 * wrong because the partner is down). Concurrent requests share one fetch. Key selection (kid,
 * alg, kty) is jose's `createLocalJWKSet`.
 */
export class RemoteKeySet {
  private keys: { set: JSONWebKeySet; verifyKey: ReturnType<typeof createLocalJWKSet>; fetchedAt: number } | null = null;
  private inFlight: Promise<void> | null = null;
  private lastUnknownKidFetch = 0;

  constructor(
    private readonly config: JwksKeySourceConfig,
    private readonly tls: JwksTls,
    private readonly fetchJwks: JwksFetcher,
    private readonly now: () => number,
  ) {}

  /** The current set (fresh within the TTL, else refetched; stale when the refetch fails). */
  async current(): Promise<NonNullable<RemoteKeySet['keys']>> {
    if (this.keys === null || this.now() - this.keys.fetchedAt > this.config.cacheTtlSeconds * 1000) {
      try {
        await this.refresh();
      } catch (err) {
        if (this.keys === null) throw err;
      }
    }
    return this.keys!;
  }

  /** Called when a token names a kid the set lacks: one refetch per interval, however many such tokens come. */
  async refreshForUnknownKid(): Promise<boolean> {
    if (this.now() - this.lastUnknownKidFetch < UNKNOWN_KID_REFETCH_MS) return false;
    this.lastUnknownKidFetch = this.now();
    try {
      await this.refresh();
      return true;
    } catch {
      return false;
    }
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.fetchWithRetries().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async fetchWithRetries(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.config.retries; attempt++) {
      if (attempt > 0) await sleep(200);
      try {
        const doc = await this.fetchJwks(this.config.url, { timeoutMs: this.config.timeoutMs, tls: this.tls });
        const set = asKeySet(doc, this.config.cacheCapacity);
        this.keys = { set, verifyKey: createLocalJWKSet(set), fetchedAt: this.now() };
        return;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError instanceof JwksUnavailableError ? lastError : new JwksUnavailableError(`JWKS fetch failed: ${(lastError as Error)?.message ?? String(lastError)}`);
  }
}

function asKeySet(doc: unknown, capacity: number): JSONWebKeySet {
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw new JwksUnavailableError('not a JWKS (no keys array)');
  if (keys.length > capacity) throw new JwksUnavailableError(`the JWKS has ${keys.length} keys, more than the configured capacity ${capacity}`);
  // Public keys only: a set that leaks private parts is used without them.
  const publicOnly = keys.filter((k): k is JWK => !!k && typeof k === 'object' && typeof (k as JWK).kty === 'string' && (k as JWK).kty !== 'oct');
  return { keys: publicOnly.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub) };
}
