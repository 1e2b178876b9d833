import type { IncomingHttpHeaders } from 'node:http';
import { HOP_BY_HOP_HEADERS, IDENTITY_HEADER_PREFIX, NEVER_FROM_CLIENT, PROXY_CREDENTIALS_PREFIX, type RequestContext } from '@idm/policies';
import { upstreamHeaderValue } from './upstream-header-value';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and must not be forwarded;
 * the Proxy-* family carries credentials meant for us, not for the upstream. (Request headers
 * are filtered by the wider rule of `isGatewayOwnedHeader`; this set serves the response.)
 */
const HOP_BY_HOP = new Set(HOP_BY_HOP_HEADERS);

// Read once: a library's exports are getters, too slow to call for every header of every request.
const OWNED_BY_GATEWAY = NEVER_FROM_CLIENT;
const IDENTITY_PREFIX = IDENTITY_HEADER_PREFIX;
const PROXY_PREFIX = PROXY_CREDENTIALS_PREFIX;
const UNDERSCORES = /_/g;

export interface ForwardingFacts {
  requestId: string;
  /** Address of the peer that connected to us. */
  peerAddress: string;
  /** The protocol of the connection the request arrived on. */
  protocol: 'http' | 'https';
  /** Port of the listener the request arrived on, as text. */
  localPort: string;
  /**
   * The peer is a proxy we trust (GATEWAY_TRUST_PROXY, or listed in GATEWAY_TRUSTED_PROXIES): its
   * X-Forwarded-* and Forwarded headers are kept and extended; anyone else's are replaced.
   */
  trustedPeer: boolean;
  /** Headers the proxy's policies may set (claim headers), normalized; null when none. */
  policyHeaderNames: ReadonlySet<string> | null;
}

export type OutgoingHeaders = Record<string, string | string[]>;

function isHopByHop(name: string, connectionTokens: Set<string> | null): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (connectionTokens !== null && connectionTokens.has(name));
}

/** Headers listed in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  // The usual values name no other header; skip the parse (this runs on every response).
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return null;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return new Set(joined.split(',').map((t) => t.trim().toLowerCase()));
}

/**
 * The upstream request's headers: the client's, minus every header the Gateway owns in any
 * spelling (`_` read as `-`: identity, forwarding, hop-by-hop, the proxy's claim headers) and
 * those a policy consumed; then the Gateway's own. One set lookup per client header.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, ctx: RequestContext, facts: ForwardingFacts): OutgoingHeaders {
  const named = connectionTokens(incoming.connection);
  const stripped = ctx.strippedHeaders;
  const policyNames = facts.policyHeaderNames;
  const out: OutgoingHeaders = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    // `normalizeHeaderName` and `isGatewayOwnedHeader` of @idm/policies, inlined.
    const key = name.indexOf('_') === -1 ? name : name.replace(UNDERSCORES, '-');
    if (OWNED_BY_GATEWAY.has(key) || key.startsWith(IDENTITY_PREFIX) || key.startsWith(PROXY_PREFIX)) continue;
    if ((policyNames !== null && policyNames.has(key)) || (named !== null && named.has(name))) continue;
    if (stripped.length !== 0 && stripped.includes(name)) continue;
    out[name] = value;
  }
  setForwardingHeaders(out, incoming, ctx.clientIp, facts);
  out['x-request-id'] = facts.requestId;
  // Always set or never sent: the client's copies were dropped above, in every spelling.
  if (ctx.identity !== null) out['x-authenticated-userid'] = upstreamHeaderValue(ctx.identity.username);
  const added = ctx.upstreamHeaders;
  for (const name in added) out[name] = upstreamHeaderValue(added[name]);
  return out;
}

/**
 * X-Forwarded-For and Forwarded (RFC 7239) get this hop appended, to the trusted peer's chain
 * or to none; X-Forwarded-Proto/Host/Port/Prefix are the trusted peer's or the Gateway's own
 * (Prefix only from a trusted peer: the Gateway maps paths and claims no prefix); X-Real-IP
 * is the client address the Gateway's own rules used.
 */
function setForwardingHeaders(out: OutgoingHeaders, incoming: IncomingHttpHeaders, clientIp: string, facts: ForwardingFacts): void {
  const trusted = facts.trustedPeer;
  const peer = facts.peerAddress;
  const priorFor = trusted ? incoming['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = priorFor ? `${joined(priorFor)}, ${peer}` : peer;
  out['x-forwarded-proto'] = (trusted && firstOf(incoming['x-forwarded-proto'])) || facts.protocol;
  const host = (trusted && firstOf(incoming['x-forwarded-host'])) || incoming.host;
  if (host) out['x-forwarded-host'] = host;
  if (!trusted) out['x-forwarded-port'] = facts.localPort;
  else {
    // A trusted balancer knows the port the client used; ours would be wrong behind it.
    const port = incoming['x-forwarded-port'];
    const prefix = incoming['x-forwarded-prefix'];
    if (port !== undefined) out['x-forwarded-port'] = port;
    if (prefix !== undefined) out['x-forwarded-prefix'] = prefix;
  }
  const element = forwardedElement(peer, incoming.host, facts.protocol);
  const priorForwarded = trusted ? incoming.forwarded : undefined;
  out.forwarded = priorForwarded ? `${joined(priorForwarded)}, ${element}` : element;
  out['x-real-ip'] = clientIp;
}

/** This hop's RFC 7239 element: who connected, the Host they asked for, over which protocol. */
function forwardedElement(peer: string, host: string | undefined, protocol: string): string {
  const node = peer === '' ? 'unknown' : peer.indexOf(':') === -1 ? peer : `"[${peer}]"`;
  return host === undefined ? `for=${node};proto=${protocol}` : `for=${node};host=${quoted(host)};proto=${protocol}`;
}

function quoted(value: string): string {
  return value.indexOf('"') === -1 && value.indexOf('\\') === -1 ? `"${value}"` : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

function joined(value: string | string[]): string {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The client's response head from the upstream's raw header list (names and values as undici
 * read them, casing kept), as the flat [name, value, ...] list writeHead accepts: hop-by-hop
 * headers dropped, repeated headers (Set-Cookie) kept, then the policies' headers, which replace
 * an upstream header of the same name, and the request id.
 */
export function downstreamResponseHeaders(raw: readonly Buffer[], policyHeaders: Readonly<Record<string, string>> | null, requestId: string): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const original = raw[i].toString('latin1');
    const name = original.toLowerCase();
    const value = raw[i + 1].toString('latin1');
    if (name === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
    if (isHopByHop(name, null) || name === 'x-request-id' || (policyHeaders !== null && name in policyHeaders)) continue;
    out.push(original, value);
  }
  const named = connectionTokens(connection);
  const kept = named === null ? out : withoutNamed(out, named);
  if (policyHeaders !== null) for (const name in policyHeaders) kept.push(name, policyHeaders[name]);
  kept.push('x-request-id', requestId);
  return kept;
}

/** The rare answer whose Connection header names further hop-by-hop headers. */
function withoutNamed(pairs: string[], named: Set<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) if (!named.has(pairs[i].toLowerCase())) kept.push(pairs[i], pairs[i + 1]);
  return kept;
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
