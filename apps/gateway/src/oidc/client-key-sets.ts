import type { UpstreamPolicy } from '@idm/domain';
import { DEFAULT_ISSUER_HTTP_LIMITS, IssuerHttp, type IssuerHttpLimits } from '../issuers/issuer-http';
import { DEFAULT_JWKS_TIMING, JwksCache, type JwksKey, type JwksTiming } from '../issuers/jwks-cache';

/** What a client's `jwksUri` gave for one `kid`: the key, or none; `unavailable` when the set was never fetched. */
export type ClientKeyLookup = { key: JwksKey | undefined; unavailable: boolean };

/** Client key sets beyond this many are forgotten oldest first (a client that comes back fetches again). */
const MAX_SETS = 1000;

/**
 * The key sets of `private_key_jwt` clients that registered a `jwksUri`. The key managers' JWKS
 * cache (`JwksCache`: TTL from Cache-Control within bounds, stale keys kept while the endpoint
 * is down, an unknown `kid` refetches at most once per interval) on one HTTP client of the
 * key managers (`IssuerHttp`: timeout, size limit, the outbound address policy of proxy
 * upstreams on every connection) that follows no redirect: the client names its own endpoint.
 */
export class ClientKeySets {
  private readonly sets = new Map<string, JwksCache>();
  private readonly http: IssuerHttp;

  constructor(
    policy: UpstreamPolicy,
    limits: Partial<IssuerHttpLimits> = {},
    private readonly timing: JwksTiming = DEFAULT_JWKS_TIMING,
    private readonly onError: (uri: string, err: Error) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.http = new IssuerHttp({}, { ...DEFAULT_ISSUER_HTTP_LIMITS, maxRedirects: 0, ...limits }, policy);
  }

  /** The key `kid` names in the set at `uri`: from memory, else after the one fetch the cache allows now. */
  async key(uri: string, kid: string): Promise<ClientKeyLookup> {
    const set = this.setFor(uri);
    const held = set.get(kid);
    if (held) return { key: held, unavailable: false };
    await set.fetchForUnknownKid();
    return { key: set.get(kid), unavailable: !set.everLoaded };
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private setFor(uri: string): JwksCache {
    let set = this.sets.get(uri);
    if (set === undefined) {
      if (this.sets.size >= MAX_SETS) this.sets.delete(this.sets.keys().next().value!);
      set = new JwksCache(
        () => Promise.resolve(uri),
        this.http,
        this.timing,
        this.now,
        (err) => this.onError(uri, err),
      );
      this.sets.set(uri, set);
    }
    return set;
  }
}
