import { ldapSourceConfigSchema, type IdentitySourceDefinition, type OidcSourceConfig, type RestSourceConfig, type SamlSourceConfig, type SqlSourceConfig } from '@idm/domain';
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
  // A config stored before a field was added lacks it: the schema fills its default (a stored config was valid when saved).
  if (d.type === 'ldap') return new LdapSource(ldapSourceConfigSchema.parse(d.config), d.secret, d.timeoutMs, guard);
  // An external IdP checks no password: its checker only proves the IdP answers (the Manager's "test connection").
  if (d.type === 'oidc') return new OidcIdpSource(d.config as OidcSourceConfig, d.secret, d.timeoutMs);
  if (d.type === 'saml') return new SamlIdpSource(d.config as SamlSourceConfig, d.secret);
  if (d.type === 'rest') return new RestSource(d.config as RestSourceConfig, d.secret, d.timeoutMs);
  return new SqlSource(d.config as SqlSourceConfig, d.secret, d.timeoutMs);
}
