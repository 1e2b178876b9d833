import type { CredentialAccess } from '@idm/domain';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { PolicyRejection } from '../policy';

type IpRules = NonNullable<CredentialAccess['ip']>;
type IpGroup = IpRules['allow'][number];

const DENIED: PolicyRejection = Object.freeze({ status: 403, code: 'ip_denied', message: 'Requests from this address are not allowed for this credential' });

/** Allowed and denied IP groups as node:net BlockLists (IPv4 and IPv6, CIDR matching in C++). */
export class IpGroupsRule {
  private readonly allow: BlockList | null;
  private readonly deny: BlockList | null;

  constructor(rules: IpRules) {
    this.allow = rules.allow.length === 0 ? null : toBlockList(rules.allow);
    this.deny = rules.deny.length === 0 ? null : toBlockList(rules.deny);
  }

  check(clientIp: string): PolicyRejection | undefined {
    const address = normalizeAddress(clientIp);
    if (address === null) return DENIED; // no usable address: nothing can be allowed
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    if (this.deny !== null && this.deny.check(address, family)) return DENIED;
    if (this.allow !== null && !this.allow.check(address, family)) return DENIED;
    return undefined;
  }
}

function toBlockList(groups: readonly IpGroup[]): BlockList {
  const list = new BlockList();
  for (const group of groups) {
    for (const cidr of group.cidrs) {
      const [address, prefix] = cidr.split('/');
      const family = isIPv4(address) ? 'ipv4' : 'ipv6';
      if (prefix === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(prefix), family);
    }
  }
  return list;
}

/** IPv4-mapped IPv6 ("::ffff:10.0.0.1", what a dual-stack socket reports) is matched as IPv4. */
export function normalizeAddress(ip: string): string | null {
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) return ip.slice(7);
  if (isIPv4(ip) || isIPv6(ip)) return ip;
  return null;
}
