import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { OwnIssuers, RequestContext } from '@idm/policies';

export type TokenPrefix = '/credential' | '/auth';
type Headers = IncomingHttpHeaders | Readonly<Record<string, string | string[] | undefined>>;

const PROTO = /^https?$/;
// Host (with optional port) or a bracketed IPv6 literal; anything else could inject into URLs we publish.
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * The issuer URLs of this Gateway's token service (`<base>/credential`, `<base>/auth`): what
 * discovery names, what minted JWTs carry in `iss`, and what jwt-auth accepts by default.
 * The base is configuration (GATEWAY_PUBLIC_URL), the same for every request. Without it, the
 * base is the request's own scheme and Host; X-Forwarded-Proto/Host count only when the peer is
 * a hop the Gateway trusts (GATEWAY_TRUST_PROXY or GATEWAY_TRUSTED_PROXIES, as for the
 * forwarding headers sent upstream): a client cannot choose the issuer its tokens carry, nor
 * the URLs a discovery document (and any cache in front of it) publishes.
 */
export class TokenIssuers implements OwnIssuers {
  readonly fixed: readonly string[] | null;
  private readonly byPrefix: Readonly<Record<TokenPrefix, string>> | null;
  /** Last Host checked against HOST: the hot path sees the same few hosts over and over. */
  private lastHost = '';
  private lastHostValid = false;

  constructor(
    private readonly publicUrl: string | null,
    /** True when the connection's peer is a proxy whose X-Forwarded-* headers are believed. */
    private readonly trustsPeer: (peer: string | undefined) => boolean = () => false,
  ) {
    this.byPrefix = publicUrl === null ? null : Object.freeze({ '/credential': `${publicUrl}/credential`, '/auth': `${publicUrl}/auth` });
    this.fixed = this.byPrefix === null ? null : Object.freeze([this.byPrefix['/credential'], this.byPrefix['/auth']]);
  }

  /** The issuer of a prefix for a request that came on `socket` with `headers`. Malformed values are never published. */
  issuerOf(headers: IncomingHttpHeaders, socket: Socket | null, prefix: TokenPrefix): string {
    if (this.byPrefix !== null) return this.byPrefix[prefix];
    return this.origin(headers, socket) + prefix;
  }

  /** The base URL clients address: the public URL, else this request's scheme and host (a DPoP proof's `htu` starts with it). */
  originOf(ctx: RequestContext): string {
    return this.publicUrl ?? this.origin(ctx.headers, ctx.socket);
  }

  private origin(headers: Headers, socket: Socket | null): string {
    const trusted = this.trustsPeer(socket?.remoteAddress);
    return `${this.protoOf(headers, socket, trusted)}://${this.hostOf(headers, trusted)}`;
  }

  /**
   * jwt-auth without a public URL: `iss` must be what minting on this request's host would have
   * put, `<proto>://<host>/credential` or `/auth`. Compared in place, no string is built.
   */
  isRequestIssuer(iss: string, ctx: RequestContext): boolean {
    if (this.byPrefix !== null) return iss === this.byPrefix['/credential'] || iss === this.byPrefix['/auth'];
    const trusted = this.trustsPeer(ctx.socket?.remoteAddress);
    const proto = this.protoOf(ctx.headers, ctx.socket, trusted);
    const host = this.hostOf(ctx.headers, trusted);
    const hostAt = proto.length + 3;
    if (!iss.startsWith(proto) || !iss.startsWith('://', proto.length) || !iss.startsWith(host, hostAt)) return false;
    const rest = iss.length - hostAt - host.length;
    return (rest === 11 && iss.endsWith('/credential')) || (rest === 5 && iss.endsWith('/auth'));
  }

  private protoOf(headers: Headers, socket: Socket | null, trusted: boolean): string {
    if (trusted) {
      const forwarded = firstOf(headers['x-forwarded-proto'])?.toLowerCase();
      if (forwarded !== undefined && PROTO.test(forwarded)) return forwarded;
    }
    return (socket as TLSSocket | null)?.encrypted === true ? 'https' : 'http';
  }

  private hostOf(headers: Headers, trusted: boolean): string {
    if (trusted) {
      const forwarded = firstOf(headers['x-forwarded-host']);
      if (forwarded !== undefined && HOST.test(forwarded)) return forwarded;
    }
    return this.ownHost(headers.host);
  }

  private ownHost(host: string | string[] | undefined): string {
    if (typeof host !== 'string') return 'localhost';
    if (host !== this.lastHost) {
      this.lastHost = host;
      this.lastHostValid = HOST.test(host);
    }
    return this.lastHostValid ? host : 'localhost';
  }
}

function firstOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.split(',')[0].trim() || undefined;
}
