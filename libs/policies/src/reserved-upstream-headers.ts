/**
 * Request headers that belong to the Gateway: it sets them for the upstream, or they steer how a
 * proxy or server in front of the upstream reads the request. A client's copy never reaches the
 * upstream, in any spelling, and no policy may map a claim onto one.
 *
 * Names are compared after `normalizeHeaderName`: CGI, WSGI, Rack and PHP turn both `-` and `_`
 * into `_` (`X_Authenticated_UserId` and `X-Authenticated-UserId` become the same
 * HTTP_X_AUTHENTICATED_USERID), so a header differing only in that spelling is the same header.
 */

/** RFC 9110 §7.6.1: they describe one connection, not the request. */
export const HOP_BY_HOP_HEADERS: readonly string[] = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/** Set by the Gateway on every request (the client's value is replaced, or kept only from a trusted hop). */
export const GATEWAY_SET_HEADERS: readonly string[] = [
  'host',
  'expect',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'forwarded',
  'x-real-ip',
];

/**
 * Never forwarded from the client: each makes some upstream believe another path, address or
 * scheme than the one the Gateway checked and reports.
 * - `x-original-url`, `x-original-uri`, `x-rewrite-url`: IIS, Symfony, Zend and Laminas take the
 *   request path from them, past the Gateway's routing and path checks.
 * - `true-client-ip`, `x-client-ip`, `x-cluster-client-ip`, `cf-connecting-ip`,
 *   `fastly-client-ip`: CDN conventions for the client address; `X-Real-IP` carries ours.
 * - `x-forwarded-server`, `x-forwarded-scheme`, `x-forwarded-ssl`, `front-end-https`: scheme and
 *   server variants (Rack, IIS) that would contradict `X-Forwarded-Proto`.
 * - `proxy`: "httpoxy" — CGI exposes it as HTTP_PROXY, which HTTP clients read as their proxy.
 * - `x-http-method-override`, `x-http-method`, `x-method-override`: Express, Spring, Rails and
 *   ASP.NET serve another method than the one the Gateway checked (405, per-method ACLs and scopes).
 */
export const STRIPPED_PROXY_HEADERS: readonly string[] = [
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'true-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'front-end-https',
  'proxy',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
];

/** `X-Authenticated-UserId`, `-UserRoles` and any later identity header. */
export const IDENTITY_HEADER_PREFIX = 'x-authenticated-';
/** Proxy-Authorization and friends: credentials for a proxy, never for the upstream. */
export const PROXY_CREDENTIALS_PREFIX = 'proxy-';

/** Exact names (normalized) a client's header must not have; see also the two prefixes. */
export const NEVER_FROM_CLIENT: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, ...GATEWAY_SET_HEADERS, ...STRIPPED_PROXY_HEADERS]);

/** Describe the message body: a policy setting one would corrupt the request. */
const FRAMING_HEADERS: ReadonlySet<string> = new Set(['content-length', 'content-type', 'content-encoding']);

const UNDERSCORES = /_/g;

/**
 * The spelling names are compared in: lower case (Node already lower-cases incoming names) with
 * `_` read as `-`. Names without `_`, nearly all, are returned as they are, without allocating.
 */
export function normalizeHeaderName(lowerCaseName: string): string {
  return lowerCaseName.indexOf('_') === -1 ? lowerCaseName : lowerCaseName.replace(UNDERSCORES, '-');
}

/** True when a client's header of this (normalized) name must not reach the upstream. */
export function isGatewayOwnedHeader(normalizedName: string): boolean {
  return NEVER_FROM_CLIENT.has(normalizedName) || normalizedName.startsWith(IDENTITY_HEADER_PREFIX) || normalizedName.startsWith(PROXY_CREDENTIALS_PREFIX);
}

/** True when a policy must not set this header upstream (validated when its config is). */
export function isReservedForPolicies(lowerCaseName: string): boolean {
  const name = normalizeHeaderName(lowerCaseName);
  return isGatewayOwnedHeader(name) || FRAMING_HEADERS.has(name);
}
