import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

const PROTO = /^https?$/;
// Host (with optional port) or a bracketed IPv6 literal; anything else could inject into URLs we publish.
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * The issuer URL of a token prefix as the client sees it: X-Forwarded-Proto/Host when a proxy in
 * front set them (RFC 8414 discovery must name the URLs the client can reach), else the request's
 * own scheme and Host. Malformed header values are ignored rather than published.
 */
export function issuerUrl(req: IncomingMessage, prefix: string): string {
  const forwardedProto = firstOf(req.headers['x-forwarded-proto'])?.toLowerCase();
  const proto = forwardedProto && PROTO.test(forwardedProto) ? forwardedProto : (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const forwardedHost = firstOf(req.headers['x-forwarded-host']);
  const host = forwardedHost && HOST.test(forwardedHost) ? forwardedHost : HOST.test(req.headers.host ?? '') ? req.headers.host! : 'localhost';
  return `${proto}://${host}${prefix}`;
}

function firstOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.split(',')[0].trim() || undefined;
}
