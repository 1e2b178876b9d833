import { isIP } from 'node:net';
import type { LdapSourceConfig } from '@idm/domain';
import { AndFilter, Client, EqualityFilter, InvalidCredentialsError, type Entry } from 'ldapts';
import { acceptableCredentials, SourceUnavailableError, withinTimeout, type IdentityChecker, type SourceAnswer, type SourceIdentity } from './identity-check';
import { escapeDnValue, firstRdnValue } from './ldap-escape';

/**
 * Checks a password against an LDAP / Active Directory server with ldapts: one connection per
 * check (binds change a connection's identity, so it is never shared between users), StartTLS
 * or ldaps with the source's CA bundle, every step bounded by the timeout.
 *  - direct: bind as the template DN with the escaped username filled in;
 *  - search: bind as the service account, find exactly one user entry with an escaped equality
 *    filter, then bind as that entry.
 * Groups come from the entry's memberOf or from a group search for the entry's DN.
 */
export class LdapSource implements IdentityChecker {
  constructor(
    private readonly config: LdapSourceConfig,
    private readonly serviceSecret: string | null,
    private readonly timeoutMs: number,
  ) {}

  async check(username: string, password: string): Promise<SourceAnswer> {
    if (!acceptableCredentials(username, password)) return { outcome: 'rejected' };
    const client = this.client();
    try {
      await this.connect(client);
      const userDn = await this.userDn(client, username);
      if (userDn === null) return { outcome: 'rejected' };
      try {
        await this.step('user bind', client.bind(userDn, password));
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return { outcome: 'rejected' };
        throw err;
      }
      return { outcome: 'verified', identity: await this.identity(client, userDn, username) };
    } catch (err) {
      throw err instanceof SourceUnavailableError ? err : new SourceUnavailableError('source_unavailable', `LDAP ${this.config.url}: ${describe(err)}`);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  async close(): Promise<void> {}

  private client(): Client {
    // ldapts speaks TLS from the first byte whenever tlsOptions are given, so only ldaps:// gets them.
    const tlsOptions = this.config.url.startsWith('ldaps:') ? this.tlsOptions() : undefined;
    return new Client({ url: this.config.url, timeout: this.timeoutMs, connectTimeout: this.timeoutMs, tlsOptions, strictDN: false });
  }

  /** The certificate must name the URL's host (StartTLS would otherwise check "localhost"). */
  private tlsOptions() {
    const host = new URL(this.config.url).hostname.replace(/^\[|\]$/g, '');
    return { ...(this.config.caPem ? { ca: [this.config.caPem] } : {}), host, ...(isIP(host) ? {} : { servername: host }), minVersion: 'TLSv1.2' as const };
  }

  private async connect(client: Client): Promise<void> {
    if (this.config.startTls) await this.step('StartTLS', client.startTLS(this.tlsOptions()));
  }

  /** The DN to bind as, or null when the search finds no single user (an unknown user is a rejection). */
  private async userDn(client: Client, username: string): Promise<string | null> {
    const bind = this.config.bind;
    if (bind.mode === 'direct') return bind.dnTemplate.replace('{username}', escapeDnValue(username));
    if (this.serviceSecret !== null) {
      try {
        await this.step('service bind', client.bind(bind.bindDn, this.serviceSecret));
      } catch (err) {
        if (err instanceof InvalidCredentialsError) throw new SourceUnavailableError('source_misconfigured', `LDAP ${this.config.url}: the service account's bind was refused`);
        throw err;
      }
    }
    const filter = new AndFilter({
      filters: [new EqualityFilter({ attribute: 'objectClass', value: bind.userObjectClass }), new EqualityFilter({ attribute: bind.usernameAttribute, value: username })],
    });
    const { searchEntries } = await this.step('user search', client.search(bind.baseDn, { scope: 'sub', filter, attributes: ['dn'], sizeLimit: 2 }));
    return searchEntries.length === 1 ? searchEntries[0]!.dn : null;
  }

  /** Read as the user just bound (its own entry is readable to itself on every directory we know). */
  private async identity(client: Client, userDn: string, typed: string): Promise<SourceIdentity> {
    const { attributes, groups } = this.config;
    const wanted = [attributes.username, attributes.email, attributes.displayName, ...(groups.mode === 'memberOf' ? [groups.attribute] : [])];
    const { searchEntries } = await this.step('user read', client.search(userDn, { scope: 'base', attributes: wanted }));
    const entry = searchEntries[0];
    if (!entry) throw new SourceUnavailableError('source_unavailable', `LDAP ${this.config.url}: the user's entry could not be read after its bind`);
    let groupNames: string[] = [];
    if (groups.mode === 'memberOf') groupNames = values(entry, groups.attribute).map(firstRdnValue);
    else if (groups.mode === 'search') {
      const filter = new AndFilter({
        filters: [new EqualityFilter({ attribute: 'objectClass', value: groups.groupObjectClass }), new EqualityFilter({ attribute: groups.memberAttribute, value: entry.dn })],
      });
      const found = await this.step('group search', client.search(groups.baseDn, { scope: 'sub', filter, attributes: [groups.nameAttribute], sizeLimit: 1000 }));
      groupNames = found.searchEntries.flatMap((g) => values(g, groups.nameAttribute));
    }
    return {
      username: values(entry, attributes.username)[0] ?? typed,
      email: values(entry, attributes.email)[0] ?? null,
      displayName: values(entry, attributes.displayName)[0] ?? null,
      groups: [...new Set(groupNames)].sort(),
    };
  }

  private step<T>(name: string, work: Promise<T>): Promise<T> {
    return withinTimeout(`LDAP ${name}`, this.timeoutMs, work);
  }
}

/** ldapts returns an attribute as a string or a list (Buffers only for binary attributes). */
function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const raw = key === undefined ? [] : entry[key];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
