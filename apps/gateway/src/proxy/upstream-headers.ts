import type { IncomingHttpHeaders } from 'node:http';
import type { RequestContext } from '@idm/policies';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and must not be forwarded;
 * the Proxy-* family carries credentials meant for us, not for the upstream.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Headers this Gateway sets itself, so a client can never supply them. */
const SET_BY_GATEWAY = new Set(['host', 'expect', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

export interface ForwardingFacts {
  requestId: string;
  /** Address of the peer that connected to us. */
  peerAddress: string;
  /** The protocol of the connection the request arrived on. */
  protocol: 'http' | 'https';
  /** Keep the client's X-Forwarded-Proto/Host (only behind a trusted load balancer). */
  trustProxy: boolean;
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

export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, ctx: RequestContext, facts: ForwardingFacts): OutgoingHeaders {
  const named = connectionTokens(incoming.connection);
  const stripped = ctx.strippedHeaders;
  const out: OutgoingHeaders = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || isHopByHop(name, named) || SET_BY_GATEWAY.has(name)) continue;
    // Identity headers are ours alone: a client must not be able to claim one.
    if (name.startsWith('x-authenticated-')) continue;
    if (stripped.length !== 0 && stripped.includes(name)) continue;
    out[name] = value;
  }
  const priorFor = incoming['x-forwarded-for'];
  out['x-forwarded-for'] = priorFor ? `${Array.isArray(priorFor) ? priorFor.join(', ') : priorFor}, ${facts.peerAddress}` : facts.peerAddress;
  out['x-forwarded-proto'] = (facts.trustProxy && firstOf(incoming['x-forwarded-proto'])) || facts.protocol;
  const host = (facts.trustProxy && firstOf(incoming['x-forwarded-host'])) || incoming.host;
  if (host) out['x-forwarded-host'] = host;
  out['x-request-id'] = facts.requestId;
  if (ctx.identity !== null) out['x-authenticated-userid'] = ctx.identity.username;
  for (const name in ctx.upstreamHeaders) out[name] = ctx.upstreamHeaders[name];
  return out;
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
