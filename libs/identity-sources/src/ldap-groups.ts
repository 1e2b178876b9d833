import type { LdapSourceConfig } from '@idm/domain';
import { AndFilter, EqualityFilter, ExtensibleFilter, OrFilter, type Entry, type Filter } from 'ldapts';

/** Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: `member:<this>:=<dn>` matches groups holding the DN at any depth. */
export const LDAP_MATCHING_RULE_IN_CHAIN = '1.2.840.113556.1.4.1941';

type GroupSearch = Extract<LdapSourceConfig['groups'], { mode: 'search' }>;

/** How one group search runs (the caller adds the timeout and the paged-results control). */
export type GroupSearcher = (baseDn: string, filter: Filter, attributes: string[]) => Promise<Entry[]>;

/** At most this many DNs in one OR filter of the recursive walk (a long filter is one request, not one per group). */
const DNS_PER_QUERY = 50;

/**
 * The groups whose member attribute holds one of `memberDns`, filter built from equality
 * filters (RFC 4515 escaping of each DN).
 */
export function groupsWithMembers(groups: GroupSearch, memberDns: readonly string[]): Filter {
  const members = memberDns.map((dn) => new EqualityFilter({ attribute: groups.memberAttribute, value: dn }));
  return new AndFilter({
    filters: [new EqualityFilter({ attribute: 'objectClass', value: groups.groupObjectClass }), members.length === 1 ? members[0]! : new OrFilter({ filters: members })],
  });
}

/** Active Directory: one search finds every group the user is in, directly or through groups of groups (the server walks the chain). */
export function groupsInChain(groups: GroupSearch, userDn: string): Filter {
  return new AndFilter({
    filters: [
      new EqualityFilter({ attribute: 'objectClass', value: groups.groupObjectClass }),
      new ExtensibleFilter({ matchType: groups.memberAttribute, rule: LDAP_MATCHING_RULE_IN_CHAIN, value: userDn }),
    ],
  });
}

/**
 * The names of the user's groups by group search:
 *  - nested `none`: the groups naming the user;
 *  - `recursive` (any directory): then the groups naming those groups, level by level, at most
 *    `maxDepth` levels beyond the direct groups; a group already seen is never asked about again,
 *    so a cycle (A in B, B in A) ends;
 *  - `inChain` (Active Directory only): one search with LDAP_MATCHING_RULE_IN_CHAIN.
 */
export async function resolveGroupNames(groups: GroupSearch, userDn: string, search: GroupSearcher): Promise<string[]> {
  const attributes = [groups.nameAttribute];
  const names = (entries: Entry[]) => entries.flatMap((g) => entryValues(g, groups.nameAttribute));
  if (groups.nested === 'inChain') return names(await search(groups.baseDn, groupsInChain(groups, userDn), attributes));
  const seen = new Set<string>();
  const found: Entry[] = [];
  let frontier = [userDn];
  const levels = groups.nested === 'recursive' ? groups.maxDepth + 1 : 1;
  for (let level = 0; level < levels && frontier.length > 0; level++) {
    const next: string[] = [];
    for (let i = 0; i < frontier.length; i += DNS_PER_QUERY) {
      for (const entry of await search(groups.baseDn, groupsWithMembers(groups, frontier.slice(i, i + DNS_PER_QUERY)), attributes)) {
        const key = normalizedDn(entry.dn);
        if (seen.has(key)) continue;
        seen.add(key);
        found.push(entry);
        next.push(entry.dn);
      }
    }
    frontier = next;
  }
  return names(found);
}

/** DNs compared the way directories mostly do: attribute names and values case-insensitively, spaces after commas ignored. */
function normalizedDn(dn: string): string {
  return dn.toLowerCase().replace(/,\s+/g, ',');
}

/** ldapts returns an attribute as a string or a list (Buffers only for binary attributes). */
export function entryValues(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const raw = key === undefined ? [] : entry[key];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}
