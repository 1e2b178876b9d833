import { RESERVED_BASE_PATHS } from '@idm/domain';

/**
 * True for the Gateway's own endpoints (health, metrics, token services, discovery), which Nest
 * serves; every other path is proxy traffic. The same reserved list keeps proxies from claiming
 * these prefixes as base paths, so the two can never overlap.
 */
export function isGatewayEndpoint(url: string): boolean {
  for (const prefix of RESERVED_BASE_PATHS) {
    if (url.startsWith(prefix)) {
      const next = url.charCodeAt(prefix.length);
      if (Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */) return true;
    }
  }
  return false;
}
