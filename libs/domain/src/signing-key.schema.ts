import { z } from 'zod';
import { entityId, timestamp } from './names.schema';
import { NEVER_EXPIRES_CAP_SECONDS } from './token-lifetime-cap';

/** JWS algorithms a signing key can be pinned to; `none` and HMAC are deliberately absent. */
export const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const createSigningKeySchema = z.strictObject({
  algorithm: z.enum(SIGNING_ALGORITHMS).default('RS256'),
  /** PKCS#8 or PKCS#1/SEC1 PEM private key to import; omitted: a key pair is generated. */
  privateKeyPem: z.string().max(20000).optional(),
});
export const rotateSigningKeySchema = createSigningKeySchema
  .extend({
    /**
     * How long the replaced key stays published (for verification only) once the new key signs.
     * Omitted: the longest access-token lifetime configured in the environment now, so no token it
     * signed is cut off; shorter than that is refused.
     */
    retireAfterSeconds: z.number().int().min(0).max(NEVER_EXPIRES_CAP_SECONDS).optional(),
    /**
     * The replaced key is compromised: it stops being published at once (every token it signed
     * stops verifying) and the new key signs at once, without the activation delay. Audited as
     * `signing_key.rotate_compromised`.
     */
    compromised: z.boolean().default(false),
  })
  .refine((r) => !(r.compromised && r.retireAfterSeconds !== undefined), {
    path: ['retireAfterSeconds'],
    message: 'a compromised key is retired at once; leave retireAfterSeconds out',
  })
  // The refinement above as JSON Schema: not both `compromised: true` and `retireAfterSeconds`.
  .meta({ not: { properties: { compromised: { const: true } }, required: ['compromised', 'retireAfterSeconds'] } });
export type CreateSigningKey = z.infer<typeof createSigningKeySchema>;
export type RotateSigningKey = z.infer<typeof rotateSigningKeySchema>;

export const signingKeyInfoSchema = z.object({
  id: entityId,
  kid: z.string(),
  algorithm: z.enum(SIGNING_ALGORITHMS),
  /** The public half as a JWK (RFC 7517), as the Gateways publish it. */
  publicJwk: z.record(z.string(), z.unknown()),
  activatesAt: timestamp,
  /** Null while the key is current; set when a rotation retires it. */
  publishedUntil: timestamp.nullable(),
  createdAt: timestamp,
});
export type SigningKeyInfo = z.infer<typeof signingKeyInfoSchema>;
