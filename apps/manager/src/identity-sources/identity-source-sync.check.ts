import type { IdentitySourceConfig, IdentitySourceSync, IdentitySourceType, LdapSourceConfig } from '@idm/domain';
import { ProblemError } from '../problems/problem.error';

/**
 * Which sources the periodic sync can ask whether a user still exists: a search-bind LDAP source
 * (its service account searches; a direct-bind one has no account to search with) and an SQL
 * source with a lookup query. REST, OIDC and SAML sources answer logins only, so a sync setting on
 * them is refused at save rather than left to do nothing.
 */
export function requireSyncable(type: IdentitySourceType, config: IdentitySourceConfig, sync: IdentitySourceSync | null): void {
  if (sync === null) return;
  if (type === 'ldap') {
    if ((config as LdapSourceConfig).bind.mode !== 'search')
      throw refused('sync_needs_search_bind', 'a direct-bind LDAP source has no service account to search the directory with; use search-then-bind', 'config.bind.mode');
    if (sync.lookupQuery !== undefined)
      throw refused('sync_query_not_applicable', 'an LDAP source is searched by its service account; lookupQuery is for SQL sources', 'sync.lookupQuery');
    return;
  }
  if (type === 'sql') {
    if (sync.lookupQuery === undefined)
      throw refused('sync_query_required', 'an SQL source needs sync.lookupQuery: a SELECT with :username returning a row while the user exists', 'sync.lookupQuery');
    return;
  }
  throw refused('sync_not_supported', `a ${type} source cannot be asked whether a user exists; only LDAP (search-bind) and SQL sources can be synced`, 'sync');
}

const refused = (code: string, message: string, path: string) => new ProblemError(422, code, 'The identity source cannot be synced this way', message, [{ path, message }]);
