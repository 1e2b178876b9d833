import { z } from 'zod';

/**
 * The compiled view of one environment that the Manager hands to Gateways. Gateways refuse a
 * snapshot whose schemaVersion they do not know (loudly) rather than guess at its meaning.
 */
export const SNAPSHOT_SCHEMA_VERSION = 3;

/**
 * One version of a project secret as the Manager stores it and a Gateway receives it: the public
 * parts in clear, the private or shared material sealed (`enc:v1:...`, a JWK inside).
 */
export const storedSecretVersionSchema = z.object({
  version: z.number().int(),
  kid: z.string(),
  publicJwk: z.record(z.string(), z.unknown()).nullable(),
  certificates: z.array(z.string()),
  x5tS256: z.string().nullable(),
  /** Sealed JSON of the private JWK (or `oct` JWK of a shared secret); null when there is none. */
  sealed: z.string().nullable(),
  createdAt: z.string(),
  /** Null for the current version; a rotated-out version is used until then. */
  retiresAt: z.string().nullable(),
});
export type StoredSecretVersion = z.infer<typeof storedSecretVersionSchema>;

/** A project secret one of the proxy's policies refers to (only those are published). */
export const snapshotSecretSchema = z.object({
  id: z.string(),
  kind: z.string(),
  versions: z.array(storedSecretVersionSchema),
});
export type SnapshotSecret = z.infer<typeof snapshotSecretSchema>;

export const snapshotProxySchema = z.object({
  id: z.string(),
  projectId: z.string(),
  name: z.string(),
  basePath: z.string(),
  upstreamUrl: z.string(),
  methods: z.array(z.string()),
  policies: z.array(z.object({ type: z.string(), config: z.record(z.string(), z.unknown()) })),
  /** When this deployment started (ISO); tokens issued through the proxy's policy before it are refused. */
  deployedAt: z.string().nullable().default(null),
  /** The project secrets its policies refer to by id (JOSE keys), sealed as stored; others never reach a Gateway. */
  secrets: z.array(snapshotSecretSchema).optional(),
});

export const snapshotApiKeySchema = z.object({
  id: z.string(),
  prefix: z.string(),
  /** SHA-256 hex of the whole key. */
  hash: z.string(),
  expiresAt: z.string().nullable(),
});

export const snapshotCredentialSchema = z.object({
  id: z.string(),
  projectId: z.string(),
  username: z.string(),
  /** argon2id PHC string, or null when the credential has no password. */
  passwordHash: z.string().nullable(),
  enabled: z.boolean(),
  expiresAt: z.string().nullable(),
  apiKeys: z.array(snapshotApiKeySchema),
  /** Roles forwarded upstream / put into tokens. */
  roles: z.array(z.string()).default([]),
  /** Secret values stay sealed (`enc:v1:...`); only a Gateway holding the master key opens them. */
  metadata: z.array(z.object({ key: z.string(), value: z.string(), secret: z.boolean(), includeInJwt: z.boolean(), includeInTokenResponse: z.boolean() })).default([]),
  /**
   * Authorization rules (`credentialAccessSchema` of @idm/domain). Kept loose here so a Gateway
   * validates them where it compiles them: one credential with rules it cannot understand is
   * refused (fail closed) instead of the whole snapshot.
   */
  access: z.record(z.string(), z.unknown()).default({}),
  /** Token service settings (`TokenSettings` from @idm/domain); null = no tokens for this credential. */
  tokenSettings: z.record(z.string(), z.unknown()).nullable().default(null),
  /**
   * Digest HA1 values of the password for the installation's digest realm, sealed (`enc:v1:...`,
   * JSON `{realm, "SHA-256", "MD5"}` inside); null when the credential has no password for Digest.
   */
  digestHa1: z.string().nullable().default(null),
  /** PEM CA certificates a client certificate must chain to (mtls-auth with validation on). */
  truststore: z.array(z.string()).default([]),
  /** The end-user profile: what the OpenID Provider releases as claims, and the lock; null: not an end user (no login page). */
  endUser: z
    .object({
      email: z.string(),
      emailVerified: z.boolean(),
      name: z.string().nullable(),
      givenName: z.string().nullable(),
      familyName: z.string().nullable(),
      locale: z.string().nullable(),
      pictureUrl: z.string().nullable(),
      attributes: z.record(z.string(), z.string()),
      locked: z.boolean(),
      /** The identity source that owns this user's password (provisioned at first login); null: a local user. */
      identitySourceId: z.string().nullable().default(null),
    })
    .nullable()
    .default(null),
});

/** Token signing keys of the environment; the private key stays sealed until a Gateway opens it. */
export const snapshotSigningKeySchema = z.object({
  kid: z.string(),
  algorithm: z.string(),
  publicJwk: z.record(z.string(), z.unknown()),
  privateKey: z.string(),
  activatesAt: z.string(),
  publishedUntil: z.string().nullable(),
});

/**
 * A key manager (trusted token issuer, @idm/domain `key-manager.schema.ts`) as Gateways need it:
 * secrets stay sealed (`enc:v1:...`) until a Gateway holding the master key opens them. Every
 * key manager goes to every environment (a short list, like the signing keys); a proxy may use
 * only System ones and those of its own project, which the Gateway checks where it compiles.
 */
export const snapshotKeyManagerSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['builtin', 'external']),
  projectId: z.string().nullable(),
  issuer: z.string().nullable(),
  discoveryUrl: z.string().nullable(),
  jwksUri: z.string().nullable(),
  introspectionEndpoint: z.string().nullable(),
  clientId: z.string().nullable(),
  clientSecret: z.string().nullable(),
  /**
   * Instead of clientSecret: the project secret (shared-secret) whose current version is the
   * introspection client secret, sealed as stored, usable versions only. Absent when not used.
   */
  clientSecretRef: snapshotSecretSchema.optional(),
  sharedSecret: z.string().nullable(),
  /**
   * Instead of sharedSecret: the project secret (shared-secret) whose usable versions are the HS*
   * keys (the previous one until its overlap ends), sealed as stored. Absent when not used.
   */
  sharedSecretRef: snapshotSecretSchema.optional(),
  algorithms: z.array(z.string()),
  audiences: z.array(z.string()),
  clockSkewSeconds: z.number(),
  requiredClaims: z.array(z.string()),
  claimMappings: z.object({
    userId: z.string(),
    username: z.string(),
    roles: z.string(),
    scopes: z.string(),
    tenant: z.string().optional(),
    headers: z.record(z.string(), z.string()),
  }),
  tokenTypes: z.enum(['jwt', 'opaque', 'both']),
  tls: z.object({ caPem: z.string().nullable(), clientCertificatePem: z.string().nullable(), clientKey: z.string().nullable() }),
  /** The key manager's timing settings (@idm/domain keyManagerTimingSchema); absent: the Gateway's defaults. */
  timing: z.record(z.string(), z.number()).optional(),
  enabled: z.boolean(),
});

/**
 * An identity source (@idm/domain `identity-source.schema.ts`: LDAP, SQL, REST or an external OIDC IdP) as Gateways need it:
 * the secret stays sealed until a Gateway holding the master key opens it, and the type's config
 * is parsed by the Gateway with the domain schema. Every source goes to every environment (a
 * short list); a proxy may name only System ones and its own project's.
 */
export const snapshotIdentitySourceSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['ldap', 'sql', 'rest', 'oidc', 'saml']),
  projectId: z.string().nullable(),
  config: z.record(z.string(), z.unknown()),
  secret: z.string().nullable(),
  /** An `oidc` source's client secret from a project secret (config.clientSecretId): its usable versions, still sealed. */
  clientSecretRef: snapshotSecretSchema.optional(),
  roleMappings: z.record(z.string(), z.array(z.string())),
  timeoutMs: z.number(),
  cacheTtlSeconds: z.number(),
  enabled: z.boolean(),
});

export const configSnapshotSchema = z.object({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  environment: z.string(),
  /** Publication epoch (`publication-epoch.ts`): a different epoch means "reload", never "apply a delta". Added in version 2. */
  epoch: z.string().min(1),
  revision: z.number().int().nonnegative(),
  generatedAt: z.string(),
  proxies: z.array(snapshotProxySchema),
  credentials: z.array(snapshotCredentialSchema),
  signingKeys: z.array(snapshotSigningKeySchema).default([]),
  keyManagers: z.array(snapshotKeyManagerSchema).default([]),
  identitySources: z.array(snapshotIdentitySourceSchema).default([]),
});

export type SnapshotProxy = z.infer<typeof snapshotProxySchema>;
export type SnapshotCredential = z.infer<typeof snapshotCredentialSchema>;
export type ConfigSnapshot = z.infer<typeof configSnapshotSchema>;
export type SnapshotSigningKey = z.infer<typeof snapshotSigningKeySchema>;
export type SnapshotKeyManager = z.infer<typeof snapshotKeyManagerSchema>;
export type SnapshotIdentitySource = z.infer<typeof snapshotIdentitySourceSchema>;

export class UnsupportedSnapshotVersionError extends Error {
  constructor(
    readonly version: unknown,
    /** Where the refused configuration stands, so a refusal is logged once per publication. */
    readonly head: { epoch: string; revision: number } | null = null,
  ) {
    super(`config snapshot schemaVersion ${String(version)} is not supported (expected ${SNAPSHOT_SCHEMA_VERSION}); upgrade this Gateway`);
  }
}

/** Parses untrusted JSON from Redis; distinguishes "too new for me" from "corrupt". */
export function parseSnapshot(json: string): ConfigSnapshot {
  const raw = JSON.parse(json) as { schemaVersion?: unknown };
  if (raw?.schemaVersion !== SNAPSHOT_SCHEMA_VERSION) throw new UnsupportedSnapshotVersionError(raw?.schemaVersion);
  return configSnapshotSchema.parse(raw);
}
