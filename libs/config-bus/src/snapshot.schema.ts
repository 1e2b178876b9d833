import { z } from 'zod';

/**
 * The compiled view of one environment that the Manager hands to Gateways. Gateways refuse a
 * snapshot whose schemaVersion they do not know (loudly) rather than guess at its meaning.
 */
export const SNAPSHOT_SCHEMA_VERSION = 3;

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
});

export type SnapshotProxy = z.infer<typeof snapshotProxySchema>;
export type SnapshotCredential = z.infer<typeof snapshotCredentialSchema>;
export type ConfigSnapshot = z.infer<typeof configSnapshotSchema>;
export type SnapshotSigningKey = z.infer<typeof snapshotSigningKeySchema>;

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
