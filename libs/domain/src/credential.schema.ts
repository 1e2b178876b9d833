import { z } from 'zod';

export const username = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._@+-]+$/, 'must be 1-128 chars of letters, digits, ".", "_", "@", "+" or "-"');

/** Passwords are write-only: accepted here, stored as argon2id, never returned. */
export const password = z.string().min(8).max(256);
const expiresAt = z.iso.datetime({ offset: true }).nullable();

export const createCredentialSchema = z.strictObject({
  username,
  password: password.optional(),
  /** Owning team inside the project (null: the project itself). */
  teamId: z.uuid().nullable().default(null),
  enabled: z.boolean().default(true),
  expiresAt: expiresAt.optional(),
  /** Issue one API key with the credential (shown once in the response). */
  issueApiKey: z.boolean().default(true),
});
export const updateCredentialSchema = z.strictObject({
  password: password.nullable().optional(),
  teamId: z.uuid().nullable().optional(),
  enabled: z.boolean().optional(),
  expiresAt: expiresAt.optional(),
});
export const createApiKeySchema = z.strictObject({ expiresAt: expiresAt.optional() });

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
  expiresAt: string | null;
  apiKeys: ApiKeyInfo[];
  createdAt: string;
  updatedAt: string;
}

/** The only response that ever carries an API key in clear. */
export interface IssuedApiKey extends ApiKeyInfo {
  key: string;
}
