/**
 * Identity sources' password checkers (LDAP, SQL, REST) and the client of external OIDC IdPs, shared by the Gateway (logins, password
 * grants) and the Manager ("test connection"): one code path, so a test proves what a login does.
 */
export * from './identity-check';
export * from './ldap-escape';
export * from './ldap-source';
export * from './ldap-groups';
export * from './ldap-referrals';
export * from './ldap-pool';
export * from './sql-password';
export * from './sql-source';
export * from './sql-connection';
export * from './directory-lookup';
export * from './rest-source';
export * from './oidc-idp';
export * from './upstream-guard';
export * from './checker-for';
export * from './saml-idp';
export * from './saml-metadata';
