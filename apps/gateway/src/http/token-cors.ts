import type { TokenCors } from '@idm/policies';

/**
 * CORS of the token endpoints, compiled once (per revision for `/auth`, at boot for
 * `/credential`). `/auth` is one URL for every proxy's client and a preflight carries no client
 * credentials, so its policy is the union of the proxies' settings (origins, methods, headers;
 * credentials if any proxy allows them; the shortest max-age).
 */
export interface TokenCorsPolicy {
  readonly anyOrigin: boolean;
  readonly origins: ReadonlySet<string>;
  readonly methods: string;
  readonly headers: string;
  readonly credentials: boolean;
  readonly maxAge: string;
}

export function compileCors(settings: readonly TokenCors[]): TokenCorsPolicy | null {
  const withOrigins = settings.filter((s) => s.origins.length > 0);
  if (withOrigins.length === 0) return null;
  const union = (pick: (s: TokenCors) => string[]) => [...new Set(withOrigins.flatMap(pick))].join(', ');
  const origins = new Set(withOrigins.flatMap((s) => s.origins));
  return Object.freeze({
    anyOrigin: origins.has('*'),
    origins,
    methods: union((s) => s.methods),
    headers: union((s) => s.headers),
    credentials: withOrigins.some((s) => s.credentials),
    maxAge: String(Math.min(...withOrigins.map((s) => s.maxAgeSeconds))),
  });
}

/** Adds the CORS answer headers to `headers` when the Origin is allowed; returns whether it was. */
export function applyCors(policy: TokenCorsPolicy | null, origin: string | string[] | undefined, headers: Record<string, string>, preflight: boolean): boolean {
  if (!policy || typeof origin !== 'string') return false;
  headers.vary = 'Origin';
  if (!policy.anyOrigin && !policy.origins.has(origin)) return false;
  // With credentials the Fetch standard forbids `*`: echo the origin instead.
  headers['access-control-allow-origin'] = policy.anyOrigin && !policy.credentials ? '*' : origin;
  if (policy.credentials) headers['access-control-allow-credentials'] = 'true';
  if (preflight) {
    headers['access-control-allow-methods'] = policy.methods;
    headers['access-control-allow-headers'] = policy.headers;
    headers['access-control-max-age'] = policy.maxAge;
  }
  return true;
}
