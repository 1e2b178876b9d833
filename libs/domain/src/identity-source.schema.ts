import { z } from 'zod';
import { description, entityId, entityName, timestamp } from './names.schema';

/**
 * An identity source is an external directory the Gateway asks to check a username and password
 * (the OAuth2 password grant, `basic-auth`): an LDAP / Active Directory server, an SQL
 * database or an HTTP endpoint (REST). Its groups map to credential roles. One secret per source
 * (the LDAP service account's or the database user's password, the REST endpoint's API key) is
 * sealed at rest and never returned.
 */

export const IDENTITY_SOURCE_TYPES = ['ldap', 'sql', 'rest', 'oidc', 'saml'] as const;
export type IdentitySourceType = (typeof IDENTITY_SOURCE_TYPES)[number];

const pem = z.string().max(100_000);
const ldapAttribute = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'must be an LDAP attribute name');
/** A server a referral may lead to: a host name or address, optionally with its port (`dc2.example.org:636`, `[2001:db8::1]:389`). */
const ldapHostPort = z
  .string()
  .max(262)
  .regex(/^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/, 'must be host or host:port');
/** A DN the admin writes; the user's part is escaped (RFC 4514) where it is filled in. */
const dn = z.string().min(3).max(1024);

/** Direct bind: the user's DN is the template with `{username}` (escaped) filled in. */
const ldapDirectBindSchema = z.strictObject({
  mode: z.literal('direct'),
  dnTemplate: dn.refine((t) => t.split('{username}').length === 2, 'must contain {username} exactly once'),
});

/** Search then bind: the service account finds the user's entry (filter built with RFC 4515 escaping), then binds as it. */
const ldapSearchBindSchema = z.strictObject({
  mode: z.literal('search'),
  bindDn: dn,
  baseDn: dn,
  /** The attribute holding what users type as their username (`uid`, AD's `sAMAccountName`). */
  usernameAttribute: ldapAttribute.default('uid'),
  /** Only entries of this objectClass are users. */
  userObjectClass: ldapAttribute.default('inetOrgPerson'),
});

const ldapGroupsSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('none') }),
  /** The user entry lists its groups' DNs (OpenLDAP's memberof overlay, Active Directory). */
  z.strictObject({ mode: z.literal('memberOf'), attribute: ldapAttribute.default('memberOf') }),
  /** Groups are searched for the user's DN in a member attribute. */
  z.strictObject({
    mode: z.literal('search'),
    baseDn: dn,
    memberAttribute: ldapAttribute.default('member'),
    groupObjectClass: ldapAttribute.default('groupOfNames'),
    nameAttribute: ldapAttribute.default('cn'),
    /**
     * Groups of groups: `none` (only the groups naming the user), `recursive` (then the groups
     * naming those, level by level up to maxDepth, each group asked about once so cycles end;
     * any directory), `inChain` (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: one search, the
     * server walks the chain).
     */
    nested: z.enum(['none', 'recursive', 'inChain']).default('none'),
    /** Levels of nesting followed beyond the user's direct groups (recursive only). */
    maxDepth: z.number().int().min(1).max(10).default(5),
  }),
]);

export const ldapSourceConfigSchema = z.strictObject({
  /** ldap://host:port or ldaps://host:port; nothing after the authority. */
  url: z.string().regex(/^ldaps?:\/\/[A-Za-z0-9.\-[\]:]+(:\d{1,5})?\/?$/, 'must be ldap://host[:port] or ldaps://host[:port]'),
  /** Upgrade ldap:// with StartTLS before any bind. */
  startTls: z.boolean().default(false),
  /** PEM CA bundle the server's certificate must chain to (instead of the system store). */
  caPem: pem.optional(),
  bind: z.discriminatedUnion('mode', [ldapDirectBindSchema, ldapSearchBindSchema]),
  groups: ldapGroupsSchema.default({ mode: 'memberOf', attribute: 'memberOf' }),
  attributes: z
    .strictObject({ username: ldapAttribute.default('uid'), email: ldapAttribute.default('mail'), displayName: ldapAttribute.default('cn') })
    .default({ username: 'uid', email: 'mail', displayName: 'cn' }),
  /**
   * Group searches ask for results in pages of this many entries (the paged-results control, RFC
   * 2696), so a user in more groups than the server's size limit (Active Directory's MaxPageSize,
   * 1000) still gets all of them; 0 sends no control (a server without paged results).
   */
  pageSize: z.number().int().min(0).max(10_000).default(500),
  /**
   * Search result references (another server holds part of the tree) in the user search: off,
   * they are ignored and never followed; on, followed one hop to a server in allowedHosts only
   * (`host` or `host:port`), with the source's TLS settings (never in clear where the source is
   * not) and its service account; a reference to any other server is not followed.
   */
  referrals: z
    .strictObject({
      follow: z.boolean().default(false),
      allowedHosts: z.array(ldapHostPort).max(20).default([]),
    })
    .default({ follow: false, allowedHosts: [] }),
  /**
   * Search-then-bind: up to `size` connections bound as the service account are kept for the
   * user search (0: a new connection and service bind per login); one unused for
   * idleTimeoutSeconds is closed. Users always bind on a connection of their own.
   */
  pool: z
    .strictObject({
      size: z.number().int().min(0).max(32).default(4),
      idleTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
    })
    .default({ size: 4, idleTimeoutSeconds: 60 }),
});
export type LdapSourceConfig = z.output<typeof ldapSourceConfigSchema>;

export const SQL_PASSWORD_FORMATS = ['argon2', 'bcrypt', 'pbkdf2', 'salted-sha256', 'plain'] as const;
export type SqlPasswordFormat = (typeof SQL_PASSWORD_FORMATS)[number];

const column = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a column name (as the query names it)');

/**
 * The admin's query, with `:username` the only parameter: it is sent as a bound parameter
 * (`$1` / `?`), never spliced into the text. One SELECT; no statement separators.
 */
const sqlQuery = z
  .string()
  .max(4000)
  .refine((q) => /^\s*select\s/i.test(q), 'must be a SELECT')
  .refine((q) => !q.includes(';'), 'must be one statement (no ";")')
  .refine((q) => /(?<!:):username\b/.test(q), 'must use the parameter :username')
  .refine((q) => [...q.matchAll(/(?<!:):([A-Za-z_]\w*)/g)].every((m) => m[1] === 'username'), ':username is the only parameter');

export const sqlSourceConfigSchema = z.strictObject({
  /** postgres and mysql (MariaDB too) are tested against real servers; mssql (tedious) and oracle (oracledb thin mode, `database` = service name) share their code path. */
  driver: z.enum(['postgres', 'mysql', 'mssql', 'oracle']),
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  database: z.string().min(1).max(128),
  user: z.string().min(1).max(128),
  /** TLS to the database; caPem pins the CA. */
  tls: z.strictObject({ caPem: pem.optional() }).optional(),
  query: sqlQuery,
  /**
   * How the password column is stored: argon2 (PHC string), bcrypt ($2a/$2b/$2y), pbkdf2
   * (Django's `pbkdf2_sha256$iterations$salt$base64`), salted-sha256 (hex of SHA-256 over salt
   * and password, salt in its own column) or plain (legacy tables; compared in constant time).
   */
  passwordFormat: z.enum(SQL_PASSWORD_FORMATS),
  saltPosition: z.enum(['prefix', 'suffix']).default('prefix'),
  columns: z
    .strictObject({
      password: column.default('password'),
      salt: column.default('salt'),
      email: column.default('email'),
      displayName: column.default('display_name'),
      /** An array column, or a comma-separated string. */
      groups: column.default('groups'),
    })
    .default({ password: 'password', salt: 'salt', email: 'email', displayName: 'display_name', groups: 'groups' }),
});
export type SqlSourceConfig = z.output<typeof sqlSourceConfigSchema>;

/** A JSON Pointer (RFC 6901) into the endpoint's JSON answer: `/authenticated`, `/user/groups`. */
const jsonPointer = z
  .string()
  .regex(/^(\/[^/]*)+$/, 'must be a JSON Pointer such as /user/email')
  .max(256);
const httpHeaderName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP header name')
  .refine((h) => !['host', 'content-length', 'transfer-encoding', 'connection', 'content-type', 'expect', 'upgrade'].includes(h.toLowerCase()), 'is set by the Gateway');
const jsonField = z.string().min(1).max(128);

/**
 * An HTTP endpoint that checks a username and password (seed `AuthenticationApi`). The Gateway
 * sends them as fields of a JSON (or form) body, never spliced into a template: escaping is the
 * encoder's. The answer's status decides first: `rejectStatuses` mean a wrong password, the
 * success statuses are then held to the optional `success` condition on the JSON answer, any
 * other status (5xx, a redirect, which is never followed) fails closed as source_unavailable.
 */
export const restSourceConfigSchema = z.strictObject({
  url: z
    .string()
    .max(2048)
    .regex(/^https?:\/\/[^\s/?#]+(\/[^\s#]*)?$/, 'must be an http:// or https:// URL')
    .refine((u) => URL.canParse(u) && new URL(u).username === '' && new URL(u).password === '', 'must be a URL without credentials (the secret goes in secretHeader)'),
  method: z.enum(['POST', 'PUT']).default('POST'),
  encoding: z.enum(['json', 'form']).default('json'),
  usernameField: jsonField.default('username'),
  passwordField: jsonField.default('password'),
  /** Constant fields sent along (a realm, a client name); never secrets: the config is readable. */
  extraFields: z.record(jsonField, z.string().max(1024)).default({}),
  /** Constant request headers (never secrets: the config is readable). */
  headers: z
    .record(
      httpHeaderName,
      z
        .string()
        .max(1024)
        .regex(/^[^\r\n]*$/, 'must be one line'),
    )
    .default({}),
  /** Where the sealed secret goes: `Authorization: Bearer <secret>` by default, or an API-key header. */
  secretHeader: z
    .strictObject({
      name: httpHeaderName,
      prefix: z
        .string()
        .max(64)
        .regex(/^[^\r\n]*$/)
        .default('Bearer '),
    })
    .optional(),
  /** PEM CA bundle an https endpoint's certificate must chain to (instead of the system store). */
  caPem: pem.optional(),
  successStatuses: z.array(z.number().int().min(200).max(299)).min(1).max(10).default([200]),
  rejectStatuses: z.array(z.number().int().min(400).max(499)).max(10).default([401, 403]),
  /** With a success status, the answer must also hold `equals` at `pointer` (e.g. /authenticated = true). */
  success: z.strictObject({ pointer: jsonPointer, equals: z.union([z.string(), z.number(), z.boolean()]) }).optional(),
  /** Where the answer holds the user's attributes; groups: an array or a comma-separated string. */
  attributes: z.strictObject({ email: jsonPointer.optional(), displayName: jsonPointer.optional(), groups: jsonPointer.optional() }).default({}),
});
export type RestSourceConfig = z.output<typeof restSourceConfigSchema>;

/** A claim name of the external IdP's ID token (or a dotted path into it: `realm_access.roles`). */
const claimName = z.string().regex(/^[A-Za-z0-9_:$-]{1,64}(\.[A-Za-z0-9_:$-]{1,64}){0,4}$/, 'must be a claim name (dots for nested claims)');

/** https, or http to a loopback address only (a development IdP on this machine): tokens and codes never cross a network in clear. */
const idpUrl = z
  .string()
  .max(2048)
  .refine((u) => URL.canParse(u), 'must be a URL')
  .refine((u) => {
    if (!URL.canParse(u)) return true;
    const url = new URL(u);
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return false;
    return url.protocol === 'https:' || (url.protocol === 'http:' && /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname));
  }, 'must be https:// (or http:// to a loopback address), without credentials, query or fragment');

/**
 * An external OpenID Provider (Keycloak, Entra ID, Okta, Auth0) users sign in with from the
 * OpenID Provider's login page ("Sign in with <name>"): the authorization code flow with PKCE,
 * state and nonce; the verified ID token's claims name the user, who is provisioned just in time
 * like a directory user. It checks no password: the password grant and `basic-auth` cannot use it.
 * The client secret is the source's sealed `secret`, or a project `shared-secret` (clientSecretId);
 * with neither, the Gateway is a public client (PKCE only).
 */
export const oidcSourceConfigSchema = z.strictObject({
  /** The IdP's issuer; its metadata is read from `<issuer>/.well-known/openid-configuration` and its ID tokens must carry exactly this `iss`. */
  issuer: idpUrl,
  clientId: z.string().min(1).max(256),
  /** A project secret (shared-secret) holding the client secret; only for a project's own source. */
  clientSecretId: z.string().uuid().optional(),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, 'must be a scope token'))
    .min(1)
    .max(20)
    .refine((s) => s.includes('openid'), 'must include openid')
    .default(['openid', 'profile', 'email']),
  /** Which ID token claims hold the username (what the end user is called in the project), email, display name and groups (an array or a comma-separated string). */
  claims: z
    .strictObject({
      username: claimName.default('preferred_username'),
      email: claimName.default('email'),
      displayName: claimName.default('name'),
      groups: claimName.default('groups'),
    })
    .default({ username: 'preferred_username', email: 'email', displayName: 'name', groups: 'groups' }),
  /**
   * Claims the ID token must carry to be let in: an empty list means "present", else one of the
   * values (an array claim: one of its members), e.g. `{ "email_verified": [true], "tid": ["<tenant>"] }`.
   */
  requiredClaims: z.record(claimName, z.array(z.union([z.string().max(256), z.number(), z.boolean()])).max(50)).default({}),
  /** Tolerance for the ID token's exp / iat / nbf. */
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
});
export type OidcSourceConfig = z.output<typeof oidcSourceConfigSchema>;

/** A SAML attribute name (a URI, an OID urn, a friendly name) or `nameID` for the subject's NameID. */
const samlAttribute = z.string().regex(/^[A-Za-z0-9_:./#-]{1,256}$/, 'must be a SAML attribute name (or nameID)');
/** An X.509 certificate in PEM (or its base64 body alone), as IdP metadata publishes it. */
const samlCertificate = z
  .string()
  .max(20_000)
  .refine((c) => /^[A-Za-z0-9+/]{100,}={0,2}$/.test(c.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')), 'must be an X.509 certificate (PEM)');

/**
 * A SAML 2.0 IdP (ADFS, Entra ID, Okta, Shibboleth) users sign in with from the OpenID
 * Provider's login page ("Sign in with <name>"): the Gateway is the Service Provider, sends an
 * AuthnRequest by HTTP-Redirect and takes the IdP's Response at its ACS (HTTP-POST), verified with
 * @node-saml/node-saml against the IdP's signing certificates. Like `oidc` it checks no password.
 * The source's sealed `secret`, when set, is the SP's private key (PEM, RSA): it signs our
 * AuthnRequests and decrypts EncryptedAssertions; its certificate (spCertificate) is published in
 * our SP metadata for both uses.
 */
export const samlSourceConfigSchema = z
  .strictObject({
    /** The IdP's entityID: its Responses and Assertions must name exactly this Issuer. */
    idpEntityId: z.string().min(1).max(1024),
    /** The IdP's SingleSignOnService for the HTTP-Redirect binding. */
    ssoUrl: idpUrl,
    /** The IdP's signing certificates (several while it rolls its key); a signature by any other key is refused. */
    idpCertificates: z.array(samlCertificate).min(1).max(5),
    /** Our entityID at the IdP (the Audience required); default: `<Gateway issuer>/external/saml/<source name>/metadata`, the SP metadata URL. */
    spEntityId: z.string().min(1).max(1024).optional(),
    /** The certificate of the SP key (the source's secret), published in our SP metadata: the IdP checks signed AuthnRequests with it and encrypts Assertions to it. */
    spCertificate: samlCertificate.optional(),
    /**
     * Assertions must arrive encrypted to the SP key (EncryptedAssertion): a plain one is refused
     * (saml_encryption_required). Needs the key (the secret) and spCertificate. Without it, an
     * encrypted Assertion is still accepted whenever the source has the key.
     */
    requireEncryptedAssertions: z.boolean().default(false),
    /** The Assertion itself must be signed (the default and the safe choice); else the whole Response must be. */
    wantAssertionsSigned: z.boolean().default(true),
    wantResponseSigned: z.boolean().default(false),
    /** Which attributes hold the username, email, display name and groups (`nameID`: the subject's NameID). */
    attributes: z
      .strictObject({
        username: samlAttribute.default('nameID'),
        email: samlAttribute.default('email'),
        displayName: samlAttribute.default('displayName'),
        groups: samlAttribute.default('groups'),
      })
      .default({ username: 'nameID', email: 'email', displayName: 'displayName', groups: 'groups' }),
    /** Attributes the Assertion must carry to be let in: an empty list means "present", else one of the values. */
    requiredAttributes: z.record(samlAttribute, z.array(z.string().max(256)).max(50)).default({}),
    /** Tolerance for NotBefore / NotOnOrAfter. */
    clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  })
  .refine((c) => c.wantAssertionsSigned || c.wantResponseSigned, {
    message: 'an unsigned Response and Assertion would let anyone in: want one of them signed',
    path: ['wantAssertionsSigned'],
  })
  .refine((c) => !c.requireEncryptedAssertions || c.spCertificate !== undefined, {
    message: 'the IdP encrypts to the certificate our metadata publishes: give spCertificate (and the SP key as the secret)',
    path: ['spCertificate'],
  });
export type SamlSourceConfig = z.output<typeof samlSourceConfigSchema>;

/**
 * An IdP's SAML 2.0 metadata (its EntityDescriptor) imported into a `saml` source: its entityID,
 * SingleSignOnService for HTTP-Redirect and signing certificates replace the source's
 * idpEntityId, ssoUrl and idpCertificates; the rest of its config is kept.
 */
export const samlMetadataImportSchema = z.strictObject({
  metadataXml: z.string().min(1).max(500_000),
});
export type SamlMetadataImport = z.output<typeof samlMetadataImportSchema>;

/** Source group -> credential roles. */
const roleMappingsValue = z.record(z.string().min(1).max(256), z.array(z.string().min(1).max(128)).max(50));
export const roleMappingsSchema = roleMappingsValue.default({});

/**
 * Operator single sign-on to the Manager through a System source: `enabled` lets its users log in
 * to the Manager (LDAP, SQL, REST with username and password at POST /auth/login; oidc through
 * /auth/sso/{id}/start), each becoming a Manager user of its own (identity key: source and
 * subject, never a local account of the same name) whose role bindings are exactly those its
 * groups map to here, refreshed at every login. `scope` is `system`, `project:<id>` or `team:<id>`.
 */
export const operatorGroupBindingSchema = z.strictObject({
  group: z.string().min(1).max(256),
  /** A role's name (built-in or custom). */
  role: z.string().min(1).max(128),
  scope: z.string().regex(/^(system|(project|team):[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/, 'must be system, project:<id> or team:<id>'),
});
export type OperatorGroupBinding = z.output<typeof operatorGroupBindingSchema>;
export const operatorLoginSchema = z.strictObject({
  enabled: z.boolean(),
  groupBindings: z.array(operatorGroupBindingSchema).max(200).default([]),
});
export type OperatorLogin = z.output<typeof operatorLoginSchema>;

/**
 * The optional periodic sync: every `intervalMinutes` one Manager asks the directory whether each
 * end user and operator the source provisioned still exists, and disables those it no longer
 * knows (never re-enabling anyone). Only a search-bind LDAP source (its service account searches)
 * and an SQL source with `lookupQuery` (one SELECT with `:username`, a row when the user exists)
 * can be asked; the Manager refuses it on any other with 422.
 */
export const identitySourceSyncSchema = z.strictObject({
  enabled: z.boolean(),
  intervalMinutes: z.number().int().min(5).max(10_080).default(60),
  lookupQuery: sqlQuery.optional(),
  /**
   * A run that finds more users gone than this disables nobody (409/logged `sync_guard_tripped`):
   * a lookup query or base DN that matches no one must not disable every user at once.
   */
  maxDisabledPerRun: z.number().int().min(1).max(1_000_000).default(100),
});
export type IdentitySourceSync = z.output<typeof identitySourceSyncSchema>;

const commonFields = {
  name: entityName,
  description: description.optional(),
  /** null: System scope (every project's proxies may use it); else the one project whose may. */
  projectId: entityId.nullable().default(null),
  /** The LDAP service account's or the database user's password, the REST endpoint's API key; sealed at rest. */
  secret: z.string().min(1).max(4096).optional(),
  roleMappings: roleMappingsSchema,
  /** Every network step (connect, bind, search, query) is bounded by this. */
  timeoutMs: z.number().int().min(100).max(30_000).default(5000),
  /** How long a successful check is remembered (0: never); failures are never cached. */
  cacheTtlSeconds: z.number().int().min(0).max(3600).default(60),
  enabled: z.boolean().default(true),
  /** null: no periodic sync (removal from the directory then disables a user at its next login only). */
  sync: identitySourceSyncSchema.nullable().default(null),
};

/** Only on the API's own create and update: a System source's operator login is no part of a project's bundle. */
const operatorLoginField = { operatorLogin: operatorLoginSchema.nullable().default(null) };
export const createIdentitySourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...commonFields, ...operatorLoginField, type: z.literal('ldap'), config: ldapSourceConfigSchema }),
  z.strictObject({ ...commonFields, ...operatorLoginField, type: z.literal('sql'), config: sqlSourceConfigSchema }),
  z.strictObject({ ...commonFields, ...operatorLoginField, type: z.literal('rest'), config: restSourceConfigSchema }),
  z.strictObject({ ...commonFields, ...operatorLoginField, type: z.literal('oidc'), config: oidcSourceConfigSchema }),
  z.strictObject({ ...commonFields, ...operatorLoginField, type: z.literal('saml'), config: samlSourceConfigSchema }),
]);
export type CreateIdentitySource = z.output<typeof createIdentitySourceSchema>;

/**
 * A project's own source in an APIops bundle: by name, no projectId (the bundle's project). The
 * secret is write-only: an export writes `secret: null` for a source without one and leaves it
 * out otherwise; applying keeps the stored secret when left out, sets it when given, removes it
 * on null. A new source that needs one (search-bind LDAP, SQL) must be given it.
 */
const { projectId: _projectId, description: _description, secret: _secret, ...bundleFields } = commonFields;
const bundleSourceFields = { ...bundleFields, description: description.nullable().default(null), secret: z.string().min(1).max(4096).nullable().optional() };
/**
 * An oidc source's config in a bundle: the project secret holding its client secret by name
 * (`clientSecretName`, as key managers and policies name secrets), since ids differ between installations.
 */
export const bundleOidcSourceConfigSchema = oidcSourceConfigSchema.omit({ clientSecretId: true }).extend({
  clientSecretName: z.string().min(1).max(200).optional(),
});
export type BundleOidcSourceConfig = z.output<typeof bundleOidcSourceConfigSchema>;
export const bundleIdentitySourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...bundleSourceFields, type: z.literal('ldap'), config: ldapSourceConfigSchema }),
  z.strictObject({ ...bundleSourceFields, type: z.literal('sql'), config: sqlSourceConfigSchema }),
  z.strictObject({ ...bundleSourceFields, type: z.literal('rest'), config: restSourceConfigSchema }),
  z.strictObject({ ...bundleSourceFields, type: z.literal('oidc'), config: bundleOidcSourceConfigSchema }),
  z.strictObject({ ...bundleSourceFields, type: z.literal('saml'), config: samlSourceConfigSchema }),
]);
export type BundleIdentitySource = z.output<typeof bundleIdentitySourceSchema>;

/** Whether a source cannot work without its secret: the search-bind service account's password, the database user's, a REST endpoint's key. */
export function identitySourceNeedsSecret(type: IdentitySourceType, config: IdentitySourceConfig): boolean {
  // A public client (PKCE only) needs none; a confidential one may take it from clientSecretId instead.
  if (type === 'oidc') return false;
  // The SP key is optional (unsigned AuthnRequests, plain Assertions are the common setup), unless Assertions must come encrypted to it.
  if (type === 'saml') return (config as SamlSourceConfig).requireEncryptedAssertions === true;
  if (type === 'rest') return (config as RestSourceConfig).secretHeader !== undefined;
  return type === 'sql' || (config as LdapSourceConfig).bind.mode === 'search';
}

/** The type and scope never change; a new config replaces the old one whole and is checked against the source's type. */
export const updateIdentitySourceSchema = z.strictObject({
  name: entityName.optional(),
  description: description.nullable().optional(),
  config: z.union([ldapSourceConfigSchema, sqlSourceConfigSchema, restSourceConfigSchema, oidcSourceConfigSchema, samlSourceConfigSchema]).optional(),
  secret: z.string().min(1).max(4096).nullable().optional(),
  // No default here: zod fills a default even under optional(), and an update that leaves the mapping out must keep it.
  roleMappings: roleMappingsValue.optional(),
  timeoutMs: z.number().int().min(100).max(30_000).optional(),
  cacheTtlSeconds: z.number().int().min(0).max(3600).optional(),
  enabled: z.boolean().optional(),
  operatorLogin: operatorLoginSchema.nullable().optional(),
  sync: identitySourceSyncSchema.nullable().optional(),
});
export type UpdateIdentitySource = z.output<typeof updateIdentitySourceSchema>;

export type IdentitySourceConfig = LdapSourceConfig | SqlSourceConfig | RestSourceConfig | OidcSourceConfig | SamlSourceConfig;

export function identitySourceConfigSchema(type: IdentitySourceType) {
  return type === 'ldap'
    ? ldapSourceConfigSchema
    : type === 'sql'
      ? sqlSourceConfigSchema
      : type === 'oidc'
        ? oidcSourceConfigSchema
        : type === 'saml'
          ? samlSourceConfigSchema
          : restSourceConfigSchema;
}

/** What the API returns: the secret never, only whether it is set. */
export const identitySourceSchema = z.object({
  id: entityId,
  name: z.string(),
  description: z.string().nullable(),
  type: z.enum(IDENTITY_SOURCE_TYPES),
  projectId: entityId.nullable(),
  config: z.union([ldapSourceConfigSchema, sqlSourceConfigSchema, restSourceConfigSchema, oidcSourceConfigSchema, samlSourceConfigSchema]),
  hasSecret: z.boolean(),
  roleMappings: z.record(z.string(), z.array(z.string())),
  timeoutMs: z.number().int(),
  cacheTtlSeconds: z.number().int(),
  enabled: z.boolean(),
  operatorLogin: operatorLoginSchema.nullable(),
  sync: identitySourceSyncSchema.nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type IdentitySource = z.infer<typeof identitySourceSchema>;

/** A source as the Gateway uses it: the secret already opened. */
export interface IdentitySourceDefinition {
  id: string;
  name: string;
  type: IdentitySourceType;
  config: IdentitySourceConfig;
  secret: string | null;
  roleMappings: Record<string, string[]>;
  timeoutMs: number;
  cacheTtlSeconds: number;
}

/**
 * The host and port a source connects to, and the config field naming them: what the upstream
 * address policy is asked about (the Manager on save, the Gateway before each connection).
 */
export function identitySourceEndpoint(type: IdentitySourceType, config: IdentitySourceConfig): { host: string; port: number; field: string } {
  if (type === 'ldap') {
    const url = new URL((config as LdapSourceConfig).url);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (url.protocol === 'ldaps:' ? 636 : 389), field: 'config.url' };
  }
  if (type === 'oidc') {
    const url = new URL((config as OidcSourceConfig).issuer);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80), field: 'config.issuer' };
  }
  if (type === 'saml') {
    // The Gateway never connects to a SAML IdP (the browser carries both messages): its SSO URL is what the policy is asked about.
    const url = new URL((config as SamlSourceConfig).ssoUrl);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80), field: 'config.ssoUrl' };
  }
  if (type === 'rest') {
    const url = new URL((config as RestSourceConfig).url);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80), field: 'config.url' };
  }
  const sql = config as SqlSourceConfig;
  return { host: sql.host, port: sql.port, field: 'config.host' };
}

/**
 * The servers an LDAP source's referrals may lead to, as the upstream address policy is asked
 * about them: each allow-list entry at its port, or at both LDAP ports when it names none.
 */
export function ldapReferralEndpoints(config: LdapSourceConfig): { host: string; port: number; field: string }[] {
  return config.referrals.allowedHosts.flatMap((entry, i) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (!m) return [];
    const host = m[1]!.replace(/^\[|\]$/g, '');
    const ports = m[2] === undefined ? [389, 636] : [Number(m[2])];
    return ports.map((port) => ({ host, port, field: `config.referrals.allowedHosts.${i}` }));
  });
}

/**
 * "Test connection": without credentials the source is asked about a random username (it must
 * answer, and answer no); with a username and password it is a test login. Nothing is stored.
 */
export const identitySourceTestSchema = z
  .strictObject({ username: z.string().min(1).max(256).optional(), password: z.string().min(1).max(1024).optional() })
  .refine((b) => (b.username === undefined) === (b.password === undefined), { message: 'give both username and password, or neither', path: ['password'] });
export type IdentitySourceTest = z.output<typeof identitySourceTestSchema>;

export const identitySourceTestResultSchema = z.object({
  /** The step succeeded: the source answered (connection) or verified the password (login). */
  ok: z.boolean(),
  step: z.enum(['connection', 'login']),
  /** reachable: the source answered and refused the random user; the other three as a login would end. */
  outcome: z.enum(['reachable', 'verified', 'rejected', 'unavailable']),
  /** Why it failed: source_unavailable, source_timeout, source_misconfigured, or source_accepts_anyone (a random user verified). */
  code: z.string().nullable(),
  /** The failing step as the driver reported it, the secret and the password masked. */
  detail: z.string().nullable(),
  /** A verified test login: what the source said about the user and the roles its groups map to. */
  identity: z
    .object({ username: z.string(), email: z.string().nullable(), displayName: z.string().nullable(), groups: z.array(z.string()), roles: z.array(z.string()) })
    .nullable(),
  /** A verified test login at a source enabled for operator login: the Manager role bindings its groups would give (nothing is granted). */
  operatorBindings: z.array(operatorGroupBindingSchema).nullable(),
  durationMs: z.number().int(),
});
export type IdentitySourceTestResult = z.infer<typeof identitySourceTestResultSchema>;

/** What a sync run did: who was asked about, who was disabled (end users) or signed out with their bindings dropped (operators). */
export const identitySourceSyncReportSchema = z.object({
  sourceId: entityId,
  checked: z.object({ endUsers: z.number().int(), operators: z.number().int() }),
  disabled: z.object({
    endUsers: z.array(z.object({ id: entityId, username: z.string() })),
    operators: z.array(z.object({ id: entityId, username: z.string() })),
  }),
  durationMs: z.number().int(),
});
export type IdentitySourceSyncReport = z.infer<typeof identitySourceSyncReportSchema>;
