import { z } from 'zod';
import { createCredentialSchema, credentialSchema } from './credential.schema';
import { validatedByService } from './validated-by-service';

/** Credentials per import request: one transaction of bounded size and a body of a few MB. */
export const MAX_CREDENTIAL_IMPORT = 10_000;

/** The format generateApiKey issues: "idm_" + 8-char prefix + "_" + 32-char secret, base64url. */
const API_KEY_FORMAT = /^idm_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{32}$/;

/**
 * argon2id in PHC form, as argon2 libraries write it (parameters in any order: the reference
 * implementation writes m,t,p, node-argon2 m,p,t). They are bounded so an imported hash cannot
 * make every later verification (Manager or Gateway) cost gigabytes or minutes.
 */
const ARGON2ID_PHC = /^\$argon2id\$v=19\$([a-z]=\d{1,8}(?:,[a-z]=\d{1,8}){2})\$[A-Za-z0-9+/]{11,86}\$[A-Za-z0-9+/]{16,86}$/;
export const argon2idPhc = z
  .string()
  .max(256)
  .refine((value) => {
    const match = ARGON2ID_PHC.exec(value);
    if (!match) return false;
    const params = Object.fromEntries(match[1].split(',').map((kv) => [kv[0], Number(kv.slice(2))]));
    const { m, t, p } = params;
    return Object.keys(params).length === 3 && p >= 1 && p <= 16 && m >= 8 * p && m <= 1_048_576 && t >= 1 && t <= 10;
  }, 'must be an argon2id hash in PHC form ($argon2id$v=19$m=<KiB, at most 1048576>,t=<1-10>,p=<1-16>$<salt>$<hash>)');

/** One credential to import: the create fields, with secrets given as SHA-256-able keys and a finished hash. */
export const importCredentialSchema = createCredentialSchema
  .pick({ username: true, teamId: true, enabled: true, expiresAt: true, email: true, fullName: true, description: true, roles: true, metadata: true, access: true })
  .extend({
    /** API keys in clear (from a key issued earlier by this product): stored as SHA-256 only. */
    apiKeys: z.array(z.string().regex(API_KEY_FORMAT, 'must be an API key as this product issues it (idm_<8 chars>_<32 chars>, base64url)')).max(10).default([]),
    /** A password hash taken over as-is from another system; plaintext passwords are refused. */
    passwordHash: argon2idPhc.optional(),
  });
export type ImportCredential = z.infer<typeof importCredentialSchema>;

export const importCredentialsSchema = z.strictObject({
  /**
   * Up to 10,000 (more: 413 `import_too_large`), all imported or none. Checked by the service
   * (400 `plaintext_password_refused` for a `password`, else `validation_failed` per entry).
   */
  credentials: validatedByService(z.array(z.unknown()), z.array(importCredentialSchema).min(1).max(MAX_CREDENTIAL_IMPORT)),
});

export const importedCredentialsSchema = z.object({
  imported: z.number().int(),
  credentials: z.array(credentialSchema.pick({ id: true, username: true })),
});
export type ImportedCredentials = z.infer<typeof importedCredentialsSchema>;
