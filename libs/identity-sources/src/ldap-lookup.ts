import { isIP } from 'node:net';
import type { LdapSourceConfig } from '@idm/domain';
import { AndFilter, Client, EqualityFilter, InvalidCredentialsError } from 'ldapts';
import { SourceUnavailableError, withinTimeout } from './identity-check';

/**
 * Whether users still exist in a search-bind LDAP directory, asked with the service account (the
 * periodic sync): one connection for the whole list, bound once, one escaped equality search per
 * user for the attribute logins take the username from. Any failure (the server down, the
 * service bind refused, a search error) throws: a sync that cannot ask must not conclude anyone
 * is gone.
 */
export class LdapLookup {
  constructor(
    private readonly config: LdapSourceConfig,
    private readonly serviceSecret: string | null,
    private readonly timeoutMs: number,
  ) {}

  async missing(usernames: readonly string[]): Promise<string[]> {
    const bind = this.config.bind;
    if (bind.mode !== 'search' || this.serviceSecret === null)
      throw new SourceUnavailableError('source_misconfigured', 'only a search-bind source with a service account can be asked whether a user exists');
    const tls = this.config.url.startsWith('ldaps:') || this.config.startTls ? this.tlsOptions() : undefined;
    const client = new Client({
      url: this.config.url,
      timeout: this.timeoutMs,
      connectTimeout: this.timeoutMs,
      tlsOptions: this.config.url.startsWith('ldaps:') ? tls : undefined,
      strictDN: false,
    });
    try {
      if (this.config.startTls) await this.step('StartTLS', client.startTLS(tls!));
      try {
        await this.step('service bind', client.bind(bind.bindDn, this.serviceSecret));
      } catch (err) {
        if (err instanceof InvalidCredentialsError) throw new SourceUnavailableError('source_misconfigured', `LDAP ${this.config.url}: the service account's bind was refused`);
        throw err;
      }
      const gone: string[] = [];
      for (const username of usernames) {
        const filter = new AndFilter({
          filters: [
            new EqualityFilter({ attribute: 'objectClass', value: bind.userObjectClass }),
            // Provisioned users are named by this attribute's value (ldap-source.ts), so they are looked up by it.
            new EqualityFilter({ attribute: this.config.attributes.username, value: username }),
          ],
        });
        const { searchEntries } = await this.step('user lookup', client.search(bind.baseDn, { scope: 'sub', filter, attributes: ['dn'], sizeLimit: 2 }));
        if (searchEntries.length === 0) gone.push(username);
      }
      return gone;
    } catch (err) {
      throw err instanceof SourceUnavailableError
        ? err
        : new SourceUnavailableError('source_unavailable', `LDAP ${this.config.url}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  private tlsOptions() {
    const host = new URL(this.config.url).hostname.replace(/^\[|\]$/g, '');
    return { ...(this.config.caPem ? { ca: [this.config.caPem] } : {}), host, ...(isIP(host) ? {} : { servername: host }), minVersion: 'TLSv1.2' as const };
  }

  private step<T>(name: string, work: Promise<T>): Promise<T> {
    return withinTimeout(`LDAP ${name}`, this.timeoutMs, work);
  }
}
