import { isIP } from 'node:net';
import type { LdapSourceConfig } from '@idm/domain';
import { AndFilter, Client, EqualityFilter, InvalidCredentialsError, type Entry, type Filter } from 'ldapts';
import { acceptableCredentials, SourceUnavailableError, withinTimeout, type IdentityChecker, type SourceAnswer, type SourceIdentity } from './identity-check';
import { escapeDnValue, firstRdnValue } from './ldap-escape';
import { entryValues, resolveGroupNames } from './ldap-groups';
import { LdapConnectionPool } from './ldap-pool';
import { parseReferral, referralAllowed, type LdapReferral } from './ldap-referrals';
import type { EndpointGuard } from './upstream-guard';

/** Where a user's entry is: its DN and the server holding it (the source's, or one a followed referral named). */
interface UserEntry {
  dn: string;
  url: string;
}

/** At most this many search result references are followed for one user search. */
const MAX_REFERRALS = 5;

/**
 * Checks a password against an LDAP / Active Directory server with ldapts, StartTLS or ldaps
 * with the source's CA bundle, every step bounded by the timeout.
 *  - direct: bind as the template DN with the escaped username filled in;
 *  - search: as the service account, find exactly one user entry with an escaped equality
 *    filter (following search result references only when the source allows it, and only to
 *    the servers it lists), then bind as that entry.
 * The service account's searches run on a small pool of connections bound once (ldap-pool.ts);
 * the user's bind has a connection of its own (a bind changes a connection's identity, so it is
 * never shared between users, nor with the pool); groups are read on it, from the entry's memberOf or by group
 * search (nested groups and paging: ldap-groups.ts).
 */
export class LdapSource implements IdentityChecker {
  /** The service account's connections to the source's own server (search-then-bind with a pool size). */
  private readonly pool: LdapConnectionPool | null;

  constructor(
    private readonly config: LdapSourceConfig,
    private readonly serviceSecret: string | null,
    private readonly timeoutMs: number,
    /** The upstream address policy a referred server is held to (the source's own server is the GuardedChecker's). */
    private readonly guard: EndpointGuard | null = null,
  ) {
    const { pool, bind } = config;
    this.pool =
      bind.mode === 'search' && pool.size > 0 ? new LdapConnectionPool(() => this.serviceConnection(config.url), pool.size, pool.idleTimeoutSeconds * 1000, timeoutMs) : null;
  }

  /** How many service-account connections the pool opened (null: no pool): a count for tests and operators. */
  get serviceConnectionsOpened(): number | null {
    return this.pool?.opened ?? null;
  }

  async check(username: string, password: string): Promise<SourceAnswer> {
    if (!acceptableCredentials(username, password)) return { outcome: 'rejected' };
    let client: Client | undefined;
    try {
      const user = await this.locate(username);
      if (user === null) return { outcome: 'rejected' };
      client = await this.open(user.url);
      try {
        await this.step('user bind', client.bind(user.dn, password));
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return { outcome: 'rejected' };
        throw err;
      }
      return { outcome: 'verified', identity: await this.identity(client, user.dn, username) };
    } catch (err) {
      throw err instanceof SourceUnavailableError ? err : new SourceUnavailableError('source_unavailable', `LDAP ${this.config.url}: ${describe(err)}`);
    } finally {
      await client?.unbind().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }

  /** A connection to the source's server or a referred one, TLS already up where the source asks for it. */
  private async open(url: string): Promise<Client> {
    // ldapts speaks TLS from the first byte whenever tlsOptions are given, so only ldaps:// gets them.
    const tlsOptions = url.startsWith('ldaps:') ? this.tlsOptions(url) : undefined;
    const client = new Client({ url, timeout: this.timeoutMs, connectTimeout: this.timeoutMs, tlsOptions, strictDN: false });
    // A referred server in clear where the source is encrypted (ldaps or StartTLS) is upgraded too: a referral never lowers the TLS settings.
    const upgrade = url.startsWith('ldap:') && (this.config.startTls || this.config.url.startsWith('ldaps:'));
    if (upgrade) {
      try {
        await this.step('StartTLS', client.startTLS(this.tlsOptions(url)));
      } catch (err) {
        await client.unbind().catch(() => undefined);
        throw err;
      }
    }
    return client;
  }

  /** The certificate must name the URL's host (StartTLS would otherwise check "localhost"). */
  private tlsOptions(url: string) {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return { ...(this.config.caPem ? { ca: [this.config.caPem] } : {}), host, ...(isIP(host) ? {} : { servername: host }), minVersion: 'TLSv1.2' as const };
  }

  /** The user's entry, or null when there is no single one (an unknown user is a rejection). */
  private async locate(username: string): Promise<UserEntry | null> {
    const bind = this.config.bind;
    if (bind.mode === 'direct') return { dn: bind.dnTemplate.replace('{username}', escapeDnValue(username)), url: this.config.url };
    const filter = new AndFilter({
      filters: [new EqualityFilter({ attribute: 'objectClass', value: bind.userObjectClass }), new EqualityFilter({ attribute: bind.usernameAttribute, value: username })],
    });
    const { entries, references } = await this.asService(this.config.url, (client) => this.userSearch(client, bind.baseDn, filter));
    const found: UserEntry[] = entries.map((dn) => ({ dn, url: this.config.url }));
    if (found.length <= 1) {
      const there = await this.followReferrals(references, (client, referral) =>
        this.userSearch(client, referral.baseDn ?? bind.baseDn, filter).then((r) => r.entries.map((dn) => ({ dn, url: referral.url }))),
      );
      found.push(...there);
    }
    return found.length === 1 ? found[0]! : null;
  }

  /**
   * The search result references of a search, followed when the source says so: each to an
   * allow-listed host the upstream address policy accepts, at most MAX_REFERRALS, bound there as
   * the service account. One hop: what a referred server refers to in turn is not followed (no
   * loops, no chains to unlisted servers). Without `follow` they are dropped unread.
   */
  private async followReferrals<T>(references: string[], search: (client: Client, referral: LdapReferral) => Promise<T[]>): Promise<T[]> {
    const { follow, allowedHosts } = this.config.referrals;
    if (!follow) return [];
    const found: T[] = [];
    const referrals = references.flatMap((uri) => parseReferral(uri) ?? []).filter((r) => referralAllowed(r, allowedHosts));
    for (const referral of referrals.slice(0, MAX_REFERRALS)) {
      if (this.guard && (await this.step('upstream policy check', this.guard(referral.host, referral.port))) !== null) continue;
      found.push(...(await this.asService(referral.url, (client) => search(client, referral))));
    }
    return found;
  }

  private async userSearch(client: Client, baseDn: string, filter: Filter): Promise<{ entries: string[]; references: string[] }> {
    const { searchEntries, searchReferences } = await this.step('user search', client.search(baseDn, { scope: 'sub', filter, attributes: ['dn'], sizeLimit: 2 }));
    return { entries: searchEntries.map((e) => e.dn), references: searchReferences };
  }

  /** Work on a connection bound as the service account (anonymous when the source has no secret): a pooled one for the source's own server. */
  private async asService<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
    if (this.pool && url === this.config.url) return this.pool.use(work);
    const client = await this.serviceConnection(url);
    try {
      return await work(client);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  private async serviceConnection(url: string): Promise<Client> {
    const client = await this.open(url);
    const bind = this.config.bind;
    if (bind.mode !== 'search' || this.serviceSecret === null) return client;
    try {
      await this.step('service bind', client.bind(bind.bindDn, this.serviceSecret));
      return client;
    } catch (err) {
      await client.unbind().catch(() => undefined);
      if (err instanceof InvalidCredentialsError) throw new SourceUnavailableError('source_misconfigured', `LDAP ${this.config.url}: the service account's bind was refused`);
      throw err;
    }
  }

  /** Read as the user just bound (its own entry is readable to itself on every directory we know). */
  private async identity(client: Client, userDn: string, typed: string): Promise<SourceIdentity> {
    const { attributes, groups } = this.config;
    const wanted = [attributes.username, attributes.email, attributes.displayName, ...(groups.mode === 'memberOf' ? [groups.attribute] : [])];
    const { searchEntries } = await this.step('user read', client.search(userDn, { scope: 'base', attributes: wanted }));
    const entry = searchEntries[0];
    if (!entry) throw new SourceUnavailableError('source_unavailable', `LDAP ${this.config.url}: the user's entry could not be read after its bind`);
    let groupNames: string[] = [];
    if (groups.mode === 'memberOf') groupNames = entryValues(entry, groups.attribute).map(firstRdnValue);
    else if (groups.mode === 'search') groupNames = await resolveGroupNames(groups, entry.dn, (baseDn, filter, attributes) => this.pagedSearch(client, baseDn, filter, attributes));
    return {
      username: entryValues(entry, attributes.username)[0] ?? typed,
      email: entryValues(entry, attributes.email)[0] ?? null,
      displayName: entryValues(entry, attributes.displayName)[0] ?? null,
      groups: [...new Set(groupNames)].sort(),
    };
  }

  /**
   * A group search: with a page size, in pages (the paged-results control) until the server has
   * no more, so its size limit bounds a page, not the answer; without one, as many as the server
   * gives. Its references are followed like the user search's (groups held by a branch server).
   */
  private async pagedSearch(client: Client, baseDn: string, filter: Filter, attributes: string[], referred = false): Promise<Entry[]> {
    const { pageSize } = this.config;
    const paged = pageSize > 0 ? { pageSize } : false;
    const { searchEntries, searchReferences } = await this.step('group search', client.search(baseDn, { scope: 'sub', filter, attributes, paged }));
    if (referred) return searchEntries;
    const there = await this.followReferrals(searchReferences, (other, referral) => this.pagedSearch(other, referral.baseDn ?? baseDn, filter, attributes, true));
    return [...searchEntries, ...there];
  }

  private step<T>(name: string, work: Promise<T>): Promise<T> {
    return withinTimeout(`LDAP ${name}`, this.timeoutMs, work);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
