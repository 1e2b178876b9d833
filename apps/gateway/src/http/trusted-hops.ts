import { BlockList, isIPv4 } from 'node:net';

/**
 * The proxies in front of the Gateway whose word about the client is believed
 * (GATEWAY_TRUSTED_PROXIES): their client-address header (client-ip.ts) and their forwarding
 * headers, which the Gateway extends instead of replacing (upstream-headers.ts). Built once at
 * boot; a check is one BlockList lookup.
 */
export class TrustedHops {
  private readonly list = new BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split('/');
      const family = isIPv4(address) ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(prefix), family);
    }
  }

  /** IPv4-mapped IPv6 (how a dual-stack socket reports IPv4 peers) is matched as IPv4. */
  trusts(address: string): boolean {
    const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    return this.list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  }
}
