import { RESERVED_BASE_PATHS } from '@idm/domain';

/**
 * True for the Gateway's own endpoints (health, metrics, token services, discovery), which Nest
 * serves; every other path is proxy traffic. The same reserved list keeps proxies from claiming
 * these prefixes as base paths, so the two can never overlap.
 */
export function isGatewayEndpoint(url: string): boolean {
  for (const prefix of RESERVED_BASE_PATHS) if (startsWithSegment(url, prefix)) return true;
  return false;
}

/** `url` is `prefix` itself or continues with a new path segment or the query. */
export function startsWithSegment(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false;
  const next = url.charCodeAt(prefix.length);
  return Number.isNaN(next) || next === 47 /* / */ || next === 63; /* ? */
}
