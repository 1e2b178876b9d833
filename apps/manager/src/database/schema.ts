import type { KeyManagerTiming } from '@idm/domain';
import { sql } from 'drizzle-orm';
import { type AnyPgColumn, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type {
  ActorType,
  ChangeSource,
  CredentialAccess,
  EndUserProfile,
  HttpMethod,
  IdentitySourceConfig,
  IdentitySourceType,
  OperatorLogin,
  IdentitySourceSync,
  Permission,
  ProjectSecretKind,
} from '@idm/domain';
import type { StoredSecretVersion } from '@idm/config-bus';

/**
 * The system of record. Change it only together with a new migration:
 * `npx -y pnpm@9 --filter @idm/manager db:generate` writes one from the difference.
 */
export interface StoredMetadataEntry {
  key: string;
  value: string;
  secret: boolean;
  includeInJwt: boolean;
  includeInTokenResponse: boolean;
}

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
};
const id = uuid('id')
  .primaryKey()
  .default(sql`gen_random_uuid()`);

export const operators = pgTable(
  'operators',
  {
    id,
    /** A federated operator's is `<source name>:<subject>`: local usernames cannot hold ":", so no local account is ever taken over. */
    username: text('username').notNull().unique(),
    /** A federated operator's is a marker no password verifies against. */
    passwordHash: text('password_hash').notNull(),
    /** Operator single sign-on: the identity source that vouches for this operator (null: a local account) and its subject there. */
    sourceId: uuid('source_id').references((): AnyPgColumn => identitySources.id, { onDelete: 'cascade' }),
    subject: text('subject'),
    ...timestamps,
  },
  (t) => [uniqueIndex('operators_source_subject_idx').on(t.sourceId, t.subject)],
);

export const operatorSessions = pgTable('operator_sessions', {
  /** SHA-256 of the bearer token; the token itself is never stored. */
  tokenHash: text('token_hash').primaryKey(),
  operatorId: uuid('operator_id')
    .notNull()
    .references(() => operators.id, { onDelete: 'cascade' }),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  createdAt: timestamps.createdAt,
});

export const environments = pgTable('environments', {
  id,
  name: text('name').notNull().unique(),
  description: text('description'),
  /** Last config revision published for this environment; only ever grows within one epoch. */
  revision: integer('revision').notNull().default(0),
  /**
   * Publication epoch (@idm/config-bus publication-epoch.ts): set at the first publication and
   * renewed when Redis shows this database went back in time (restored backup) or when another
   * database published the environment meanwhile, so Gateways move to this database's revisions.
   */
  publicationEpoch: text('publication_epoch'),
  ...timestamps,
});

export const projects = pgTable('projects', {
  id,
  name: text('name').notNull().unique(),
  description: text('description'),
  ...timestamps,
});

export const teams = pgTable(
  'teams',
  {
    id,
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    ...timestamps,
  },
  (t) => [unique('teams_project_name_unique').on(t.projectId, t.name)],
);

export const apiProxies = pgTable(
  'api_proxies',
  {
    id,
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** Optional owning team inside the project; team-scoped grants reach only their team's rows. */
    teamId: uuid('team_id').references(() => teams.id, { onDelete: 'no action' }),
    name: text('name').notNull(),
    description: text('description'),
    /** Unique across the installation so a base path means one thing in every environment. */
    basePath: text('base_path').notNull().unique(),
    upstreamUrl: text('upstream_url').notNull(),
    methods: text('methods').array().$type<HttpMethod[]>().notNull(),
    policies: jsonb('policies').$type<{ type: string; config: Record<string, unknown> }[]>().notNull(),
    /** Self-service credential requests: off, approved automatically, or by a project member. */
    selfService: text('self_service').$type<'off' | 'auto' | 'manual'>().notNull().default('off'),
    ...timestamps,
  },
  (t) => [unique('api_proxies_project_name_unique').on(t.projectId, t.name)],
);

export const proxyDeployments = pgTable(
  'proxy_deployments',
  {
    proxyId: uuid('proxy_id')
      .notNull()
      .references(() => apiProxies.id, { onDelete: 'cascade' }),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'restrict' }),
    /** The proxy's project (a proxy never changes project): environment_projects' triggers need it when the proxy is already gone (a cascaded delete). */
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** Start of this deployment: tokens issued through the proxy's policy before it are refused (undeploy ends them). */
    deployedAt: timestamp('deployed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // By environment: what the publisher pages through and joins on (the key starts with the proxy).
  // By project: the cascade of a project's deletion.
  (t) => [
    primaryKey({ columns: [t.proxyId, t.environmentId] }),
    index('proxy_deployments_environment_idx').on(t.environmentId),
    index('proxy_deployments_project_environment_idx').on(t.projectId, t.environmentId),
  ],
);

/**
 * How many proxies of each project are deployed in each environment, kept by triggers on
 * proxy_deployments (migration 0022), never written by the application. Whether an environment
 * shows a project's credentials is one primary-key probe here whatever the number of proxies: on
 * proxy_deployments the planner walked every proxy of the project for each environment that did
 * not show it (10-40 ms per credential change at 10,000 proxies).
 */
export const environmentProjects = pgTable(
  'environment_projects',
  {
    projectId: uuid('project_id').notNull(),
    environmentId: uuid('environment_id').notNull(),
    proxies: integer('proxies').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.environmentId] })],
);

export const credentials = pgTable(
  'credentials',
  {
    id,
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    teamId: uuid('team_id').references(() => teams.id, { onDelete: 'no action' }),
    username: text('username').notNull(),
    passwordHash: text('password_hash'),
    enabled: boolean('enabled').notNull().default(true),
    email: text('email'),
    fullName: text('full_name'),
    description: text('description'),
    roles: text('roles')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** Secret entries hold a SecretBox envelope (`enc:v1:...`) as their value, never plaintext. */
    metadata: jsonb('metadata').$type<StoredMetadataEntry[]>().notNull().default([]),
    /** Authorization rules (`credentialAccessSchema` output), enforced by the Gateways. */
    access: jsonb('access').$type<CredentialAccess>().notNull().default({}),
    /**
     * Digest HA1 values (H(username:realm:password) per algorithm) for the installation's digest
     * realm, as one SecretBox envelope; set with the password, null without one (or for passwords
     * set before Digest support: setting the password again creates it).
     */
    digestHa1: text('digest_ha1'),
    /** PEM CA certificates a client certificate must chain to (mtls-auth with validation on). */
    truststore: jsonb('truststore').$type<string[]>().notNull().default([]),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    /**
     * The end-user profile (null: not an end user, so no login page). The email is the `email`
     * column, unique among the project's end users; the rest lives here as one document because
     * it travels to the Gateways whole and is never queried field by field.
     */
    endUser: jsonb('end_user').$type<Omit<EndUserProfile, 'email'>>(),
    ...timestamps,
  },
  (t) => [
    unique('credentials_project_username_unique').on(t.projectId, t.username),
    index('credentials_project_team_username_idx').on(t.projectId, t.teamId, t.username),
    uniqueIndex('credentials_project_end_user_email_unique')
      .on(t.projectId, sql`lower(${t.email})`)
      .where(sql`${t.endUser} IS NOT NULL`),
  ],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id,
    credentialId: uuid('credential_id')
      .notNull()
      .references(() => credentials.id, { onDelete: 'cascade' }),
    prefix: text('prefix').notNull().unique(),
    /** SHA-256 hex of the whole key. */
    keyHash: text('key_hash').notNull().unique(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamps.createdAt,
    // A credential's keys are read with it (publication by id and by page): never a scan of all keys.
  },
  (t) => [index('api_keys_credential_idx').on(t.credentialId)],
);

export const groups = pgTable('groups', {
  id,
  name: text('name').notNull().unique(),
  description: text('description'),
  ...timestamps,
});

export const groupMembers = pgTable(
  'group_members',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    operatorId: uuid('operator_id')
      .notNull()
      .references(() => operators.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.operatorId] })],
);

export const roles = pgTable('roles', {
  id,
  name: text('name').notNull().unique(),
  description: text('description'),
  builtIn: boolean('built_in').notNull().default(false),
  permissions: text('permissions').array().$type<Permission[]>().notNull(),
  ...timestamps,
});

/** A role granted to a user or a group at a scope: system (scope_id null), a project, or a team. */
export const roleBindings = pgTable(
  'role_bindings',
  {
    id,
    roleId: uuid('role_id')
      .notNull()
      .references(() => roles.id, { onDelete: 'cascade' }),
    subjectType: text('subject_type').$type<'user' | 'group'>().notNull(),
    subjectId: uuid('subject_id').notNull(),
    scopeType: text('scope_type').$type<'system' | 'project' | 'team'>().notNull(),
    scopeId: uuid('scope_id'),
    /** For team scope: the team's project, so project-level filters need no join. */
    projectId: uuid('project_id'),
    createdAt: timestamps.createdAt,
  },
  (t) => [index('role_bindings_subject_idx').on(t.subjectType, t.subjectId)],
);

/** One row per committed change, written in the change's own transaction. */
export const auditEvents = pgTable(
  'audit_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    actorId: uuid('actor_id'),
    actorType: text('actor_type').$type<ActorType>().notNull(),
    actorName: text('actor_name').notNull(),
    source: text('source').$type<ChangeSource>().notNull(),
    ip: text('ip'),
    correlationId: text('correlation_id'),
    action: text('action').notNull(),
    entityKind: text('entity_kind').notNull(),
    entityId: text('entity_id'),
    projectId: uuid('project_id'),
    teamId: uuid('team_id'),
    diff: jsonb('diff').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index('audit_events_at_idx').on(t.at), index('audit_events_project_idx').on(t.projectId, t.seq)],
);

/**
 * An environment's token signing keys. Exactly one is the signer at any time: the newest whose
 * `activates_at` has passed. A new key is published (JWKS) before it activates; a replaced key
 * stays published until every token it signed has expired (`published_until`).
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    id,
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    kid: text('kid').notNull().unique(),
    algorithm: text('algorithm').notNull(),
    publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>().notNull(),
    /** PKCS#8 PEM sealed with the master key (`enc:v1:...`). */
    privateKey: text('private_key').notNull(),
    activatesAt: timestamp('activates_at', { withTimezone: true, mode: 'date' }).notNull(),
    publishedUntil: timestamp('published_until', { withTimezone: true, mode: 'date' }),
    createdAt: timestamps.createdAt,
  },
  (t) => [index('signing_keys_environment_idx').on(t.environmentId)],
);

/** An application asking for a credential to call a proxy (self-service), and its outcome. */
export const credentialRequests = pgTable('credential_requests', {
  id,
  projectId: uuid('project_id')
    .notNull()
    .references(() => projects.id, { onDelete: 'cascade' }),
  proxyId: uuid('proxy_id')
    .notNull()
    .references(() => apiProxies.id, { onDelete: 'cascade' }),
  username: text('username').notNull(),
  contact: text('contact'),
  status: text('status').$type<'pending' | 'approved' | 'rejected'>().notNull(),
  /** SHA-256 of the secret the requester polls with. */
  pollSecretHash: text('poll_secret_hash').notNull(),
  credentialId: uuid('credential_id').references(() => credentials.id, { onDelete: 'set null' }),
  /** The issued key, sealed, until the requester has fetched it once. */
  pendingKey: text('pending_key'),
  decidedBy: text('decided_by'),
  ...timestamps,
});

/** Token service settings of a credential (the Gateway's `/credential/...` token endpoints). */
export const credentialTokenSettings = pgTable('credential_token_settings', {
  credentialId: uuid('credential_id')
    .primaryKey()
    .references(() => credentials.id, { onDelete: 'cascade' }),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull(),
  updatedAt: timestamps.updatedAt,
});

/**
 * Durable copies of opaque OAuth2 tokens, written from the Gateways' BullMQ jobs. Redis holds the
 * live copy; this one answers when Redis lost it (restart without persistence).
 */
export const oauthTokens = pgTable(
  'oauth_tokens',
  {
    /** SHA-256 of the token; the token itself is never stored. */
    tokenHash: text('token_hash').primaryKey(),
    kind: text('kind').$type<'access' | 'refresh'>().notNull(),
    environment: text('environment').notNull(),
    familyId: text('family_id'),
    record: jsonb('record').$type<Record<string, unknown>>().notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamps.createdAt,
  },
  (t) => [index('oauth_tokens_family_idx').on(t.familyId), index('oauth_tokens_expiry_idx').on(t.expiresAt)],
);

/**
 * Revocations of durable token copies, kept apart from the copies: the jobs that write both run
 * concurrently, so a revocation can land before the copy it revokes; as a fact of its own it
 * still applies when the copy arrives later. `subject` is `token:<hash>` or `family:<id>`.
 */
export const oauthTokenRevocations = pgTable('oauth_token_revocations', {
  subject: text('subject').primaryKey(),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * Project secrets (keys, certificates, trust stores, shared secrets) that the project's policies
 * refer to by id. `versions` holds every version still usable, newest last: public parts in clear,
 * private or shared material sealed (`StoredSecretVersion` of @idm/config-bus).
 */
export const projectSecrets = pgTable(
  'project_secrets',
  {
    id,
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    teamId: uuid('team_id').references(() => teams.id, { onDelete: 'no action' }),
    name: text('name').notNull(),
    description: text('description'),
    kind: text('kind').$type<ProjectSecretKind>().notNull(),
    versions: jsonb('versions').$type<StoredSecretVersion[]>().notNull(),
    ...timestamps,
  },
  (t) => [unique('project_secrets_project_name_unique').on(t.projectId, t.name)],
);

/** What a key manager row keeps besides its identity, scope and secrets (see `key-manager.schema.ts` of @idm/domain). */
export interface KeyManagerSettings {
  discoveryUrl: string | null;
  jwksUri: string | null;
  introspectionEndpoint: string | null;
  clientId: string | null;
  /** A project secret (shared-secret) whose current version is the introspection client secret; absent on older rows. */
  clientSecretId?: string | null;
  /** A project secret (shared-secret) whose usable versions are the HS* keys; absent on older rows. */
  sharedSecretId?: string | null;
  algorithms: string[];
  audiences: string[];
  clockSkewSeconds: number;
  requiredClaims: string[];
  claimMappings: { userId: string; username: string; roles: string; scopes: string; tenant?: string; headers: Record<string, string> };
  tokenTypes: 'jwt' | 'opaque' | 'both';
  roleList: { type: 'ALLOW' | 'DENY'; roles: string[] } | null;
  tls: { caPem: string | null; clientCertificatePem: string | null };
  /** Absent on rows written before it existed: the defaults apply. */
  timing?: KeyManagerTiming;
}

/**
 * Issuers the Gateways trust (key managers): System scope (`project_id` null) or one project's.
 * The issuer is unique: the Gateway picks a key manager by a token's `iss`. Secrets are sealed.
 */
export const keyManagers = pgTable(
  'key_managers',
  {
    id,
    name: text('name').notNull().unique(),
    description: text('description'),
    type: text('type').$type<'builtin' | 'external'>().notNull(),
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    issuer: text('issuer').unique(),
    settings: jsonb('settings').$type<KeyManagerSettings>().notNull(),
    /** Sealed with the master key (`enc:v1:...`). */
    clientSecret: text('client_secret'),
    sharedSecret: text('shared_secret'),
    tlsClientKey: text('tls_client_key'),
    enabled: boolean('enabled').notNull().default(true),
    ...timestamps,
  },
  (t) => [index('key_managers_project_idx').on(t.projectId)],
);

/**
 * External directories that check end users' passwords for the Gateways (identity sources):
 * System scope (`project_id` null) or one project's. `config` is the type's settings without the
 * secret (`identity-source.schema.ts` of @idm/domain); the one secret (LDAP service account's or
 * database user's password) is sealed.
 */
export const identitySources = pgTable(
  'identity_sources',
  {
    id,
    name: text('name').notNull().unique(),
    description: text('description'),
    type: text('type').$type<IdentitySourceType>().notNull(),
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    config: jsonb('config').$type<IdentitySourceConfig>().notNull(),
    /** Sealed with the master key (`enc:v1:...`). */
    secret: text('secret'),
    roleMappings: jsonb('role_mappings').$type<Record<string, string[]>>().notNull(),
    timeoutMs: integer('timeout_ms').notNull(),
    cacheTtlSeconds: integer('cache_ttl_seconds').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    /** System sources only: whether and how its users log in to the Manager (null: they do not). */
    operatorLogin: jsonb('operator_login').$type<OperatorLogin>(),
    /** The periodic sync's settings (null: none); see identitySourceSyncSchema. */
    sync: jsonb('sync').$type<IdentitySourceSync>(),
    ...timestamps,
  },
  (t) => [index('identity_sources_project_idx').on(t.projectId)],
);

/**
 * A project's brute-force settings: overrides of the environment's detectors for failures
 * against the project's credentials, published to every Gateway (`{idm:bf}:project-settings`).
 */
export const projectBruteForceSettings = pgTable('project_brute_force_settings', {
  projectId: uuid('project_id')
    .primaryKey()
    .references(() => projects.id, { onDelete: 'cascade' }),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull(),
  updatedAt: timestamps.updatedAt,
});

/** Dynamic client registration (RFC 7591) per project: off unless a row says `enabled`. */
export const projectClientRegistration = pgTable('project_client_registration', {
  projectId: uuid('project_id')
    .primaryKey()
    .references(() => projects.id, { onDelete: 'cascade' }),
  enabled: boolean('enabled').notNull(),
  updatedAt: timestamps.updatedAt,
});

/** What a caller of the registration endpoint must present (RFC 7591 §3): only the SHA-256 of the token is kept. */
export const initialAccessTokens = pgTable(
  'initial_access_tokens',
  {
    id,
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    prefix: text('prefix').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    description: text('description'),
    singleUse: boolean('single_use').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamps.createdAt,
  },
  (t) => [index('initial_access_tokens_project_idx').on(t.projectId)],
);

/**
 * A client that registered itself (the credential is an ordinary OIDC client of the project): its
 * registration access token (RFC 7592, SHA-256 only, replaced on every update) and the metadata
 * it registered, echoed back by the management protocol.
 */
export const clientRegistrations = pgTable(
  'client_registrations',
  {
    credentialId: uuid('credential_id')
      .primaryKey()
      .references(() => credentials.id, { onDelete: 'cascade' }),
    initialAccessTokenId: uuid('initial_access_token_id').references(() => initialAccessTokens.id, { onDelete: 'set null' }),
    accessTokenHash: text('access_token_hash').notNull(),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull(),
    ...timestamps,
  },
  (t) => [index('client_registrations_token_idx').on(t.initialAccessTokenId)],
);

/** A project's end-user self-service settings (self-registration on the OpenID Provider's pages); none: off. */
export const projectEndUserRegistration = pgTable('project_end_user_registration', {
  projectId: uuid('project_id')
    .primaryKey()
    .references(() => projects.id, { onDelete: 'cascade' }),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull(),
  updatedAt: timestamps.updatedAt,
});
