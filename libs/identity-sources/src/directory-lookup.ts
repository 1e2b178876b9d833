import type { IdentitySourceDefinition, IdentitySourceSync, LdapSourceConfig, SqlSourceConfig } from '@idm/domain';
import { SourceUnavailableError } from './identity-check';
import { LdapLookup } from './ldap-lookup';
import { SqlConnection } from './sql-connection';

/**
 * Asks a directory which of the users it once vouched for are gone (the periodic sync): LDAP by
 * the service account's search, SQL by the source's lookup query (`:username` bound like the
 * login query's). Throws {@link SourceUnavailableError} when the directory cannot answer for
 * every user: then nobody is concluded gone.
 */
export interface DirectoryLookup {
  missing(usernames: readonly string[]): Promise<string[]>;
  close(): Promise<void>;
}

class SqlLookup implements DirectoryLookup {
  private readonly connection: SqlConnection;

  constructor(
    config: SqlSourceConfig,
    secret: string | null,
    timeoutMs: number,
    private readonly query: string,
  ) {
    this.connection = new SqlConnection(config, secret, timeoutMs);
  }

  async missing(usernames: readonly string[]): Promise<string[]> {
    const gone: string[] = [];
    for (const username of usernames) if ((await this.connection.query(this.query, username)).length === 0) gone.push(username);
    return gone;
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

export function directoryLookupFor(d: IdentitySourceDefinition, sync: IdentitySourceSync): DirectoryLookup {
  if (d.type === 'ldap') {
    const ldap = new LdapLookup(d.config as LdapSourceConfig, d.secret, d.timeoutMs);
    return { missing: (u) => ldap.missing(u), close: async () => undefined };
  }
  if (d.type === 'sql' && sync.lookupQuery !== undefined) return new SqlLookup(d.config as SqlSourceConfig, d.secret, d.timeoutMs, sync.lookupQuery);
  throw new SourceUnavailableError('source_misconfigured', `a ${d.type} source cannot be asked whether a user exists`);
}
