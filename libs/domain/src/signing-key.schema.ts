import { z } from 'zod';

/** JWS algorithms a signing key can be pinned to; `none` and HMAC are deliberately absent. */
export const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const createSigningKeySchema = z.strictObject({
  algorithm: z.enum(SIGNING_ALGORITHMS).default('RS256'),
  /** PKCS#8 or PKCS#1/SEC1 PEM private key to import; omitted: a key pair is generated. */
  privateKeyPem: z.string().max(20000).optional(),
});
export const rotateSigningKeySchema = createSigningKeySchema.extend({
  /** How long the replaced key stays in the JWKS: at least the longest token lifetime. */
  retireAfterSeconds: z.number().int().min(0).max(365 * 24 * 3600).default(24 * 3600),
});
export type CreateSigningKey = z.infer<typeof createSigningKeySchema>;
export type RotateSigningKey = z.infer<typeof rotateSigningKeySchema>;

export interface SigningKeyInfo {
  id: string;
  kid: string;
  algorithm: SigningAlgorithm;
  publicJwk: Record<string, unknown>;
  activatesAt: string;
  publishedUntil: string | null;
  createdAt: string;
}
