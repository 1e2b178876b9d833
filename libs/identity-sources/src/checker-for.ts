import type { IdentitySourceDefinition, LdapSourceConfig, OidcSourceConfig, RestSourceConfig, SamlSourceConfig, SqlSourceConfig } from '@idm/domain';
import type { IdentityChecker } from './identity-check';
import { LdapSource } from './ldap-source';
import { OidcIdpSource } from './oidc-idp';
import { RestSource } from './rest-source';
import { SamlIdpSource } from './saml-idp';
import { SqlSource } from './sql-source';
import type { EndpointGuard } from './upstream-guard';

/** The checker for a source's type: the one code path the Gateway's logins and the Manager's "test connection" share. */
export function checkerFor(d: IdentitySourceDefinition, guard: EndpointGuard | null = null): IdentityChecker {
  // `guard`: the upstream address policy for servers a source finds on its own (an LDAP referral).
  if (d.type === 'ldap') return new LdapSource(d.config as LdapSourceConfig, d.secret, d.timeoutMs, guard);
  // An external IdP checks no password: its checker only proves the IdP answers (the Manager's "test connection").
  if (d.type === 'oidc') return new OidcIdpSource(d.config as OidcSourceConfig, d.secret, d.timeoutMs);
  if (d.type === 'saml') return new SamlIdpSource(d.config as SamlSourceConfig, d.secret);
  if (d.type === 'rest') return new RestSource(d.config as RestSourceConfig, d.secret, d.timeoutMs);
  return new SqlSource(d.config as SqlSourceConfig, d.secret, d.timeoutMs);
}
