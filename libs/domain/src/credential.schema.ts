import { z } from 'zod';

export const username = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._@+-]+$/, 'must be 1-128 chars of letters, digits, ".", "_", "@", "+" or "-"');

/** Passwords are write-only: accepted here, stored as argon2id, never returned. */
export const password = z.string().min(8).max(256);
const expiresAt = z.iso.datetime({ offset: true }).nullable();

/**
 * Free-form facts about a consumer. Secret entries are encrypted at rest and write-only: responses
 * show the key but never the value; on update a secret entry without a value keeps the old one.
 */
export const metadataEntrySchema = z.strictObject({
  key: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, ".", "_" or "-"'),
  value: z.string().max(4096).optional(),
  secret: z.boolean().default(false),
  includeInJwt: z.boolean().default(false),
  includeInTokenResponse: z.boolean().default(false),
});
const metadata = z
  .array(metadataEntrySchema)
  .max(50)
  .refine((entries) => new Set(entries.map((e) => e.key)).size === entries.length, 'metadata keys must be unique');
const profile = {
  email: z.email().max(254).nullable(),
  fullName: z.string().max(200).nullable(),
  description: z.string().max(1000).nullable(),
  roles: z.array(z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/)).max(50),
};
export type MetadataEntry = z.infer<typeof metadataEntrySchema>;

export const createCredentialSchema = z.strictObject({
  username,
  password: password.optional(),
  /** Owning team inside the project (null: the project itself). */
  teamId: z.uuid().nullable().default(null),
  enabled: z.boolean().default(true),
  expiresAt: expiresAt.optional(),
  /** Issue one API key with the credential (shown once in the response). */
  issueApiKey: z.boolean().default(true),
  email: profile.email.default(null),
  fullName: profile.fullName.default(null),
  description: profile.description.default(null),
  roles: profile.roles.default([]),
  metadata: metadata.default([]),
});
export const updateCredentialSchema = z.strictObject({
  password: password.nullable().optional(),
  teamId: z.uuid().nullable().optional(),
  enabled: z.boolean().optional(),
  expiresAt: expiresAt.optional(),
  email: profile.email.optional(),
  fullName: profile.fullName.optional(),
  description: profile.description.optional(),
  roles: profile.roles.optional(),
  metadata: metadata.optional(),
});
/** Keyset pagination by username: pass the last username of a page as `after`. */
export const listCredentialsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.string().max(128).optional(),
});
export type ListCredentialsQuery = z.infer<typeof listCredentialsQuerySchema>;

export const createApiKeySchema = z.strictObject({ expiresAt: expiresAt.optional() });
/** Rotation: a new key now; the old one keeps working for the grace period (0 = revoke at once). */
export const rotateApiKeySchema = z.strictObject({ graceSeconds: z.number().int().min(0).max(30 * 24 * 3600).default(24 * 3600) });
export type RotateApiKey = z.infer<typeof rotateApiKeySchema>;

export type CreateCredential = z.infer<typeof createCredentialSchema>;
export type UpdateCredential = z.infer<typeof updateCredentialSchema>;
export type CreateApiKey = z.infer<typeof createApiKeySchema>;

export interface ApiKeyInfo {
  id: string;
  /** Visible prefix that identifies a key without revealing it, e.g. "idm_3fA9c1Qe". */
  prefix: string;
  expiresAt: string | null;
  createdAt: string;
}

export interface Credential {
  id: string;
  projectId: string;
  teamId: string | null;
  username: string;
  hasPassword: boolean;
  enabled: boolean;
  email: string | null;
  fullName: string | null;
  description: string | null;
  roles: string[];
  /** Secret entries come back without their value. */
  metadata: (Omit<MetadataEntry, 'value'> & { value?: string })[];
  expiresAt: string | null;
  apiKeys: ApiKeyInfo[];
  createdAt: string;
  updatedAt: string;
}

/** The only response that ever carries an API key in clear. */
export interface IssuedApiKey extends ApiKeyInfo {
  key: string;
}

export interface RotatedApiKey extends IssuedApiKey {
  /** The replaced key and until when it still works. */
  replaced: { id: string; prefix: string; expiresAt: string };
}

/** An application asking for its own credential to call a proxy (self-service). */
export const credentialRequestSchema = z.strictObject({
  proxyId: z.uuid(),
  username,
  contact: z.string().max(254).optional(),
});
export type CredentialRequestInput = z.infer<typeof credentialRequestSchema>;
