import { isIPv4, isIPv6 } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayConfig } from '../config/gateway-config';
import { TrustedHops } from './trusted-hops';

/**
 * The client address that IP-group and geo rules see. A forwarded-for header is believed only
 * when the peer that connected to us is a trusted proxy; otherwise anyone could claim any
 * address. "last" walks the header from the right past trusted hops and takes the first
 * address it does not trust (what the nearest trusted proxy saw); "first" takes the leftmost.
 * An entry that is not an IP address ends the walk at the last trustworthy address.
 */
export class ClientIpResolver {
  private readonly trusted: TrustedHops;

  constructor(private readonly config: GatewayConfig['clientIp']) {
    this.trusted = new TrustedHops(config.trustedProxies);
  }

  /** True when a header is configured at all (otherwise the peer address is used as is). */
  get enabled(): boolean {
    return this.config.header !== null;
  }

  resolve(peer: string, headers: IncomingHttpHeaders): string {
    const raw = headers[this.config.header!];
    if (raw === undefined || !this.isTrusted(peer)) return peer;
    const entries = (Array.isArray(raw) ? raw.join(',') : raw).split(',');
    if (this.config.position === 'first') {
      const first = entries[0].trim();
      return isIP(first) ? first : peer;
    }
    let nearest = peer;
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i].trim();
      if (!isIP(entry)) return nearest;
      nearest = entry;
      if (!this.isTrusted(entry)) return entry;
    }
    return nearest;
  }

  private isTrusted(address: string): boolean {
    return this.trusted.trusts(address);
  }
}

const isIP = (value: string) => isIPv4(value) || isIPv6(value);

/**
 * The client address without a configured forwarded-for header: the peer, or behind a trusted
 * load balancer (GATEWAY_TRUST_PROXY) the leftmost X-Forwarded-For entry, as Fastify's
 * `request.ip` gives it on the Gateway's own endpoints.
 */
export function peerOrForwardedIp(peer: string, headers: IncomingHttpHeaders, trustProxy: boolean): string {
  if (!trustProxy) return peer;
  const forwarded = headers['x-forwarded-for'];
  if (forwarded === undefined) return peer;
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded).split(',')[0].trim();
  return isIP(first) ? first : peer;
}
