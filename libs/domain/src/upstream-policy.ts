import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { cidr } from './credential.schema';

/**
 * Which addresses a proxy may reach: the installation-wide upstream policy. The Manager checks an
 * upstream URL when a proxy is saved and the Gateway checks every address it is about to connect
 * to (after DNS, so a name that later resolves to 127.0.0.1 is still refused). Both build this
 * class from the same variables, so they decide identically.
 *
 * Order: the installation's own endpoints (always refused), then UPSTREAM_DENY, then the built-in
 * internal ranges (refused unless UPSTREAM_ALLOW_INTERNAL or an UPSTREAM_ALLOW entry covers them).
 */
export interface UpstreamPolicySettings {
  /** Development mode: loopback, link-local and metadata addresses are allowed. */
  allowInternal: boolean;
  /** CIDRs/addresses and host names exempt from the internal ranges (never from deny or own endpoints). */
  allow: readonly string[];
  /** CIDRs/addresses, host names and `host:port` endpoints that are always refused. */
  deny: readonly string[];
  /** The installation's own listeners and stores (Manager, Redis, PostgreSQL, the Gateway itself). */
  ownEndpoints: readonly OwnEndpoint[];
}

export interface OwnEndpoint {
  /** What it is, named in the refusal ("the Manager's listener", "Redis"). */
  what: string;
  host: string;
  port: number;
}

export type UpstreamRefusalReason = 'installation_endpoint' | 'denied_by_policy' | 'internal_address';

export interface UpstreamRefusal {
  reason: UpstreamRefusalReason;
  /** One sentence for the operator; names the address, never a secret. */
  detail: string;
}

/** Loopback, "this host", link-local and cloud metadata addresses. */
const INTERNAL_RANGES: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network": connecting to 0.0.0.0 reaches the local host
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, including 169.254.169.254 (AWS, GCP, Azure, OCI metadata)
  ['100.100.100.200', 32, 'ipv4'], // Alibaba Cloud metadata
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['fd00:ec2::254', 128, 'ipv6'], // AWS metadata over IPv6
];

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addSubnet('0.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addAddress('::', 'ipv6');

/** How long a named deny entry's addresses are reused before asking DNS again. */
const NAME_CACHE_MS = 30_000;

/** A name's answer can take getaddrinfo's retries (seconds); past this it counts as not resolving. */
const RESOLVE_TIMEOUT_MS = 2_000;

export type ResolveAll = (hostname: string) => Promise<string[]>;
export const resolveAll: ResolveAll = (hostname) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`resolving ${hostname} timed out`), { code: 'ETIMEOUT' })), RESOLVE_TIMEOUT_MS);
  });
  const answer = lookup(hostname, { all: true, verbatim: true }).then((list) => list.map((a) => a.address));
  return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
};

interface Endpoint {
  /** An own endpoint (refused in every mode) or an UPSTREAM_DENY entry. */
  reason: 'installation_endpoint' | 'denied_by_policy';
  what: string;
  /** Lower-case host name, or a normalized address. */
  host: string;
  /** null: every port. */
  port: number | null;
  /** A loopback/unspecified host: every address of this machine. */
  local: boolean;
}

export class UpstreamPolicy {
  private readonly denied = new BlockList();
  private readonly allowed = new BlockList();
  private readonly internal = new BlockList();
  private readonly allowedNames: ReadonlySet<string>;
  /** Named or port-specific deny entries and own endpoints. */
  private readonly endpoints: Endpoint[] = [];
  private readonly localAddresses: ReadonlySet<string>;
  private readonly names = new Map<string, { at: number; addresses: Promise<string[]> }>();

  constructor(
    private readonly settings: UpstreamPolicySettings,
    private readonly resolve: ResolveAll = resolveAll,
    localAddresses: Iterable<string> = interfaceAddresses(),
  ) {
    for (const [address, prefix, family] of INTERNAL_RANGES) this.internal.addSubnet(address, prefix, family);
    const allowedNames = new Set<string>();
    for (const entry of settings.allow) {
      if (!addRange(this.allowed, entry)) allowedNames.add(entry.toLowerCase());
    }
    this.allowedNames = allowedNames;
    for (const endpoint of settings.ownEndpoints) this.endpoints.push(toEndpoint('installation_endpoint', endpoint.what, endpoint.host, endpoint.port));
    for (const entry of settings.deny) {
      if (addRange(this.denied, entry)) continue;
      const { host, port } = splitHostPort(entry);
      this.endpoints.push(toEndpoint('denied_by_policy', `UPSTREAM_DENY entry '${entry}'`, host, port));
    }
    this.localAddresses = new Set([...localAddresses].map(normalize));
  }

  /**
   * The Manager's check on save: every address the host resolves to now must be allowed. A name
   * that does not resolve (yet) is accepted; the Gateway checks the addresses it connects to.
   */
  async checkUrl(upstreamUrl: string): Promise<UpstreamRefusal | null> {
    const url = new URL(upstreamUrl);
    const hostname = unbracket(url.hostname);
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    let addresses: string[];
    if (isIP(hostname)) addresses = [hostname];
    else {
      try {
        addresses = await this.resolve(hostname);
      } catch {
        addresses = [];
      }
      if (!addresses.length) return this.check(hostname, null, port);
    }
    for (const address of addresses) {
      const refusal = await this.check(hostname, address, port);
      if (refusal) return refusal;
    }
    return null;
  }

  /** The Gateway's check of one address it is about to connect to (null: allowed). */
  async check(hostname: string, address: string | null, port: number): Promise<UpstreamRefusal | null> {
    const name = unbracket(hostname).toLowerCase().replace(/\.$/, '');
    const ip = address === null ? null : normalize(address);
    const family = ip === null ? null : isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    for (const endpoint of this.endpoints) {
      if (endpoint.port !== null && endpoint.port !== port) continue;
      if (await this.matches(endpoint, name, ip, family)) {
        return endpoint.reason === 'installation_endpoint'
          ? { reason: endpoint.reason, detail: `${describe(name, ip, port)} is ${endpoint.what}, which no proxy may target` }
          : { reason: endpoint.reason, detail: `${describe(name, ip, port)} is refused by ${endpoint.what}` };
      }
    }
    if (ip === null) return null;
    if (this.denied.check(ip, family!)) return { reason: 'denied_by_policy', detail: `${describe(name, ip, port)} is in a range UPSTREAM_DENY refuses` };
    if (!this.settings.allowInternal && this.internal.check(ip, family!) && !this.allowed.check(ip, family!) && !this.allowedNames.has(name)) {
      return { reason: 'internal_address', detail: `${describe(name, ip, port)} is a loopback, link-local or metadata address (allow it with UPSTREAM_ALLOW)` };
    }
    return null;
  }

  private async matches(endpoint: Endpoint, name: string, ip: string | null, family: 'ipv4' | 'ipv6' | null): Promise<boolean> {
    if (endpoint.host === name) return true;
    if (ip === null) return false;
    if (endpoint.local && (LOOPBACK.check(ip, family!) || this.localAddresses.has(ip))) return true;
    if (isIP(endpoint.host)) return endpoint.host === ip;
    return (await this.addressesOf(endpoint.host)).includes(ip);
  }

  private addressesOf(name: string): Promise<string[]> {
    const cached = this.names.get(name);
    if (cached && Date.now() - cached.at < NAME_CACHE_MS) return cached.addresses;
    const addresses = this.resolve(name).then(
      (list) => list.map(normalize),
      () => [],
    );
    this.names.set(name, { at: Date.now(), addresses });
    return addresses;
  }
}

/**
 * Parses UPSTREAM_ALLOW / UPSTREAM_DENY (comma lists). Entries: an address or CIDR, a host name,
 * or `host:port` / `[v6]:port` (deny only). Returns the problems, one per bad entry.
 */
export function parseUpstreamList(value: string | undefined, variable: string, allowPorts: boolean): { entries: string[]; problems: string[] } {
  const entries = (value ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const problems: string[] = [];
  for (const entry of entries) {
    if (cidr.safeParse(entry).success) continue;
    const { host, port } = splitHostPort(entry);
    if (port !== null && !allowPorts) problems.push(`${variable}: '${entry}' names a port; only UPSTREAM_DENY takes host:port entries`);
    else if (port !== null && !(port >= 1 && port <= 65535)) problems.push(`${variable}: '${entry}' has no valid port`);
    else if (!isIP(host) && !HOST_NAME.test(host)) problems.push(`${variable}: '${entry}' is not an address, CIDR or host name`);
  }
  return { entries, problems };
}

/** The host and port of a redis:// or postgres:// URL, for the own-endpoint list. */
export function endpointOf(what: string, url: string | undefined, defaultPort: number): OwnEndpoint[] {
  if (!url) return [];
  const parsed = new URL(url);
  return [{ what, host: unbracket(parsed.hostname) || 'localhost', port: Number(parsed.port) || defaultPort }];
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

function addRange(list: BlockList, entry: string): boolean {
  if (!cidr.safeParse(entry).success) return false;
  const [address, prefix] = entry.split('/');
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) list.addAddress(address, family);
  else list.addSubnet(address, Number(prefix), family);
  return true;
}

function toEndpoint(reason: Endpoint['reason'], what: string, host: string, port: number | null): Endpoint {
  const name = unbracket(host).toLowerCase().replace(/\.$/, '');
  const ip = isIP(name) ? normalize(name) : null;
  const local = name === 'localhost' || (ip !== null && LOOPBACK.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4'));
  return { reason, what, host: ip ?? name, port, local };
}

function splitHostPort(entry: string): { host: string; port: number | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] === undefined ? null : Number(bracketed[2]) };
  const colon = entry.lastIndexOf(':');
  if (colon > 0 && entry.indexOf(':') === colon) return { host: entry.slice(0, colon), port: /^\d{1,5}$/.test(entry.slice(colon + 1)) ? Number(entry.slice(colon + 1)) : NaN };
  return { host: entry, port: null };
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** IPv4-mapped IPv6 (::ffff:127.0.0.1) is the IPv4 address it carries; IPv6 in lower case. */
function normalize(address: string): string {
  const lower = address.toLowerCase();
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower); // how URL writes [::ffff:127.0.0.1]
  if (!hex) return lower;
  const [high, low] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

function describe(name: string, ip: string | null, port: number): string {
  const where = ip === null || ip === name ? name : `${name} (${ip})`;
  return `${where}:${port}`;
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
}

/**
 * UPSTREAM_ALLOW_INTERNAL, UPSTREAM_ALLOW and UPSTREAM_DENY as both apps read them, plus the
 * endpoints the app itself knows are the installation's. Problems name the variable and entry.
 */
/** The variables upstreamPolicySettings reads, for the apps' configuration tables. */
export const UPSTREAM_POLICY_VARIABLES = ['UPSTREAM_ALLOW', 'UPSTREAM_DENY', 'UPSTREAM_ALLOW_INTERNAL'] as const;

export function upstreamPolicySettings(env: NodeJS.ProcessEnv, ownEndpoints: readonly OwnEndpoint[]): { settings: UpstreamPolicySettings; problems: string[] } {
  const flag = env.UPSTREAM_ALLOW_INTERNAL ?? '';
  const problems = ['', 'true', 'false', '1', '0'].includes(flag) ? [] : ['UPSTREAM_ALLOW_INTERNAL: must be true or false'];
  const allow = parseUpstreamList(env.UPSTREAM_ALLOW, 'UPSTREAM_ALLOW', false);
  const deny = parseUpstreamList(env.UPSTREAM_DENY, 'UPSTREAM_DENY', true);
  problems.push(...allow.problems, ...deny.problems);
  const settings = { allowInternal: flag === 'true' || flag === '1', allow: allow.entries, deny: deny.entries, ownEndpoints };
  return { settings, problems };
}
