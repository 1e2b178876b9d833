// The shapes the console reads, as the Manager's OpenAPI document describes them (libs/domain).

export interface Project {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}

export interface PolicySpec {
  type: string;
  config: Record<string, unknown>;
}

export interface ApiProxy {
  id: string;
  projectId: string;
  teamId: string | null;
  name: string;
  description: string | null;
  basePath: string;
  upstreamUrl: string;
  methods: string[];
  policies: PolicySpec[];
  environments: string[];
  selfService: 'off' | 'auto' | 'manual';
}

export interface ApiKeyInfo {
  id: string;
  prefix: string;
  expiresAt: string | null;
  createdAt: string;
}

/** The only answers that carry an API key in clear: shown once, never stored by the console. */
export interface IssuedApiKey extends ApiKeyInfo {
  key: string;
}

export interface Credential {
  id: string;
  projectId: string;
  username: string;
  enabled: boolean;
  expiresAt: string | null;
  apiKeys: ApiKeyInfo[];
  /** The credential's authorization rules (ACL, IP, geo, time, rate limits, quotas), as the API's `access` schema. */
  access: Record<string, unknown>;
  createdAt: string;
}

export interface Environment {
  id: string;
  name: string;
  description: string | null;
  revision: number;
}

/** One Gateway as it last reported itself (GET /environments/{id}/gateways). */
export interface GatewayStatus {
  id: string;
  version: string;
  ready: boolean;
  revision: number | null;
  sync: 'in_sync' | 'behind' | 'loading' | 'other_epoch' | 'unknown';
  /** Published revisions not applied yet; null unless in sync or behind. */
  behind: number | null;
  appliedAt: string | null;
  startedAt: string;
  lastSeen: string;
  requestsPerSecond: number;
}

export interface EnvironmentGateways {
  environment: string;
  publishedRevision: number | null;
  gateways: GatewayStatus[];
}

export interface AuditEvent {
  seq: number;
  at: string;
  actor: { id: string | null; type: string; name: string; source: string; ip: string | null };
  action: string;
  entity: { kind: string; id: string | null; projectId: string | null; teamId: string | null };
  diff: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PolicyType {
  type: string;
  schema: Record<string, unknown>;
}

export interface Team {
  id: string;
  projectId: string;
  name: string;
  description: string | null;
  createdAt: string;
}

/** An operator of the Manager (never a password hash). */
export interface User {
  id: string;
  username: string;
  createdAt: string;
}

export interface Group {
  id: string;
  name: string;
  description: string | null;
  members: string[];
}

export interface Role {
  id: string;
  name: string;
  description: string | null;
  builtIn: boolean;
  permissions: string[];
}

export type ScopeType = 'system' | 'project' | 'team';

export interface RoleBinding {
  id: string;
  roleId: string;
  subject: { type: 'user' | 'group'; id: string };
  scope: { type: ScopeType; id: string | null };
  projectId: string | null;
  createdAt: string;
}

export interface SigningKey {
  id: string;
  kid: string;
  algorithm: string;
  publicJwk: Record<string, unknown>;
  activatesAt: string;
  /** Null while the key is current; set when a rotation retires it. */
  publishedUntil: string | null;
  createdAt: string;
}

export interface BruteForceBlock {
  id: string;
  detector: string;
  credential: string | null;
  projectId: string | null;
  address: string | null;
  source: string;
  failures: number;
  strike: number;
  blockedAt: string;
  until: string;
}

export interface CredentialRequest {
  id: string;
  proxyId: string;
  username: string;
  contact: string | null;
  status: 'pending' | 'approved' | 'rejected';
  credentialId: string | null;
  /** The approving operator's name, `auto`, or null while pending. */
  decidedBy: string | null;
  createdAt: string;
}

export interface PlannedChange {
  op: 'create' | 'update' | 'delete';
  kind: string;
  name: string;
  fields?: string[];
}

export type ProjectSecretKind = 'private-key' | 'public-key' | 'certificate' | 'trust-store' | 'shared-secret';

/** A project secret as the API shows it: public parts only, never the private or shared material. */
export interface ProjectSecret {
  id: string;
  projectId: string;
  teamId: string | null;
  name: string;
  description: string | null;
  kind: ProjectSecretKind;
  currentVersion: number;
  versions: { version: number; kid: string; hasSecretMaterial: boolean; createdAt: string; retiresAt: string | null }[];
  createdAt: string;
}

export type KeyManagerTokenTypes = 'jwt' | 'opaque' | 'both';

/** A trusted token issuer as the API shows it: secrets only as "set or not" (libs/domain key-manager.schema.ts). */
export interface KeyManager {
  id: string;
  name: string;
  description: string | null;
  type: 'builtin' | 'external';
  projectId: string | null;
  issuer: string | null;
  discoveryUrl: string | null;
  jwksUri: string | null;
  introspectionEndpoint: string | null;
  clientId: string | null;
  hasClientSecret: boolean;
  /** The project secret (shared-secret) the introspection client secret comes from. */
  clientSecretId: string | null;
  hasSharedSecret: boolean;
  /** The project secret (shared-secret) HS* tokens are verified with. */
  sharedSecretId: string | null;
  algorithms: string[];
  audiences: string[];
  clockSkewSeconds: number;
  requiredClaims: string[];
  claimMappings: { userId: string; username: string; roles: string; scopes: string; tenant?: string; headers: Record<string, string> };
  tokenTypes: KeyManagerTokenTypes;
  roleList: { type: 'ALLOW' | 'DENY'; roles: string[] } | null;
  tls: { caPem: string | null; clientCertificatePem: string | null; hasClientKey: boolean };
  timing: KeyManagerTiming;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** How the Gateways call a key manager and cache its answers (libs/domain keyManagerTimingSchema). */
export interface KeyManagerTiming {
  timeoutMs: number;
  maxResponseBytes: number;
  jwksMinTtlSeconds: number;
  jwksMaxTtlSeconds: number;
  jwksDefaultTtlSeconds: number;
  refreshAheadPercent: number;
  unknownKidIntervalSeconds: number;
  retryAfterErrorSeconds: number;
  introspectionMaxTtlSeconds: number;
  introspectionNegativeTtlSeconds: number;
}

export type IdentitySourceType = 'ldap' | 'sql' | 'rest' | 'oidc' | 'saml';

/** POST /identity-sources/{id}/test (libs/domain identitySourceTestResultSchema). */
export interface IdentitySourceTestResult {
  ok: boolean;
  step: 'connection' | 'login';
  outcome: 'reachable' | 'verified' | 'rejected' | 'unavailable';
  code: string | null;
  detail: string | null;
  durationMs: number;
}

/** An LDAP or SQL directory the Gateways check passwords against; its secret is never returned, only whether it is set. */
export interface IdentitySource {
  id: string;
  name: string;
  description: string | null;
  type: IdentitySourceType;
  projectId: string | null;
  config: Record<string, unknown>;
  hasSecret: boolean;
  roleMappings: Record<string, string[]>;
  timeoutMs: number;
  cacheTtlSeconds: number;
  enabled: boolean;
  /** The periodic sync's settings; null: none, and "sync now" is refused (the Manager accepts them only on a search-bind LDAP or an SQL source with a lookup query). */
  sync: IdentitySourceSync | null;
  /** Operators may sign in to the Manager through the source; its groups bind Manager roles. Null: off. */
  operatorLogin: { enabled: boolean; groupBindings: { group: string; role: string; scope: string }[] } | null;
  createdAt: string;
  updatedAt: string;
}

export interface IdentitySourceSync {
  enabled: boolean;
  intervalMinutes: number;
  lookupQuery?: string;
  maxDisabledPerRun: number;
}

/** What one sync run did: who was asked about, and who was disabled (end users) or signed out (operators). */
export interface IdentitySourceSyncReport {
  sourceId: string;
  checked: { endUsers: number; operators: number };
  disabled: { endUsers: { id: string; username: string }[]; operators: { id: string; username: string }[] };
  durationMs: number;
}

/** A person who logs in at the Gateway's login page: a credential of the project with a profile. */
export interface EndUser {
  id: string;
  projectId: string;
  teamId: string | null;
  username: string;
  hasPassword: boolean;
  email: string;
  emailVerified: boolean;
  name: string | null;
  givenName: string | null;
  familyName: string | null;
  locale: string | null;
  roles: string[];
  enabled: boolean;
  locked: boolean;
  /** The directory the user comes from (its password lives there); null for a user of the project itself. */
  identitySource: { id: string; name: string } | null;
  lastLoginAt: string | null;
  createdAt: string;
}

/** What "send this user a mail" answers: the address it went to and until when its link works. */
export interface EndUserMailSent {
  sentTo: string;
  expiresAt: string;
}

/** A project's initial access token for dynamic client registration (never the token itself, but its prefix). */
export interface InitialAccessToken {
  id: string;
  projectId: string;
  prefix: string;
  description: string | null;
  singleUse: boolean;
  expiresAt: string;
  usedAt: string | null;
  registrations: number;
  createdAt: string;
}

/** An initial access token as created: the token in clear, this once. */
export interface CreatedInitialAccessToken extends InitialAccessToken {
  token: string;
}

export type AuthOutcome = 'success' | 'denied' | 'throttled' | 'blocked';

/** One authentication decision of a Gateway, as the analytics live tail sends it (never a secret, a key's prefix at most). */
export interface AuthRecord {
  id: string;
  time: number;
  environment: string;
  proxyName: string | null;
  policy: string | null;
  outcome: AuthOutcome;
  reason: string | null;
  status: number;
  username: string | null;
  keyPrefix: string | null;
  clientIp: string;
  country: string | null;
}

/** Counts of auth records over a window, by time bucket and by what they share (GET /analytics/auth). */
export interface AuthAnalytics {
  from: string;
  to: string;
  bucket: 'minute' | 'hour' | 'day';
  source: 'postgresql' | 'elasticsearch';
  total: number;
  series: ({ start: string } & Record<AuthOutcome, number>)[];
  byOutcome: { outcome: string; count: number }[];
  byReason: { reason: string | null; count: number }[];
  byCredential: { credentialId: string | null; username: string | null; count: number }[];
  byProxy: { proxyId: string | null; proxyName: string | null; count: number }[];
  topFailingCredentials: { credentialId: string | null; username: string | null; count: number }[];
  topFailingAddresses: { clientIp: string; count: number }[];
}

/** A credential that is an OIDC client, as the project's OIDC client list shows it. */
export interface OidcClientSummary {
  credentialId: string;
  username: string;
  enabled: boolean;
  clientType: 'confidential' | 'public';
  redirectUris: string[];
  consentRequired: boolean;
}

/** End users' consents to one client: `next` is the `after` of the next page (null when every end user was looked at). */
export interface ClientConsentPage {
  items: { userId: string; username: string; environment: string; scopes: string[] }[];
  next: string | null;
}
