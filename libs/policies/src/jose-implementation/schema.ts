import { z } from 'zod';
import { JWE_CONTENT_ENCRYPTIONS, JWE_KEY_ALGORITHMS, JWS_ALGORITHMS, keySourceSchema, payloadSourceSchema, payloadTargetSchema, requestTemplate } from '../jose-keys/schema';

const claimName = z.string().min(1).max(64);
const RESERVED_CLAIMS = ['iss', 'aud', 'sub', 'jti', 'iat', 'exp', 'nbf'];

/**
 * jose-implementation: sign (JWS) and/or encrypt (JWE) the body, a header or a variable of the
 * request or of the upstream's answer; sign-then-encrypt when both (a nested JWT, `cty: JWT`).
 * With `claims`, the payload is a JWT claims set: the source's JSON object (or `{}` for
 * `from: "claims"`) plus the configured claims.
 */
export const joseImplementationConfigSchema = z
  .strictObject({
    phase: z.enum(['request', 'response']).default('request'),
    /** What is protected; `claims`: a JWT made of the configured claims alone. */
    payload: z.union([payloadSourceSchema, z.strictObject({ from: z.literal('claims') })]).default({ from: 'body' }),
    /** Where the compact result goes (response phase: the body or a response header). */
    output: payloadTargetSchema.default({ to: 'body', contentType: 'application/jose' }),
    sign: z
      .strictObject({
        alg: z.enum(JWS_ALGORITHMS),
        /** The signing key; `byIssuer`: the key is picked at run time by the resolved `iss` claim. */
        key: keySourceSchema.optional(),
        byIssuer: z.record(z.string().min(1).max(512), keySourceSchema).optional(),
        typ: z.string().max(50).optional(),
        /** Put the certificate's `x5t#S256` into the header (certificate secrets). */
        includeX5tS256: z.boolean().default(false),
      })
      .refine((s) => (s.key === undefined) !== (s.byIssuer === undefined), { message: 'either key or byIssuer' })
      .optional(),
    encrypt: z
      .strictObject({
        alg: z.enum(JWE_KEY_ALGORITHMS),
        enc: z.enum(JWE_CONTENT_ENCRYPTIONS),
        key: keySourceSchema,
      })
      .optional(),
    claims: z
      .strictObject({
        issuer: requestTemplate.optional(),
        audiences: z.array(requestTemplate).max(20).default([]),
        subject: requestTemplate.optional(),
        /** A random `jti` (UUID) per token. */
        jti: z.boolean().default(false),
        /** `iat` = now + offset (negative: backdated for clocks behind ours). */
        issuedAtOffsetSeconds: z.number().int().min(-3600).max(3600).default(0),
        /** `exp` = base + lifetime; base `issuedAt` (iat, with its offset) or `now`. Omitted: no exp. */
        expiresInSeconds: z.number().int().min(1).max(31_536_000).optional(),
        expiresFrom: z.enum(['issuedAt', 'now']).default('issuedAt'),
        /** Claims from request values (`${header.x}`, `${var.x}`, `${identity.username}`...). */
        custom: z
          .record(
            claimName.refine((c) => !RESERVED_CLAIMS.includes(c), 'is a registered claim set by its own field'),
            requestTemplate,
          )
          .default({}),
      })
      .optional(),
    maxPayloadBytes: z
      .number()
      .int()
      .min(1)
      .max(10 * 1024 * 1024)
      .default(1024 * 1024),
  })
  .refine((c) => c.sign !== undefined || c.encrypt !== undefined, { message: 'sign, encrypt or both', path: ['sign'] })
  .refine((c) => c.payload.from !== 'claims' || c.claims !== undefined, { message: 'a payload made of claims needs claims', path: ['claims'] })
  .refine((c) => c.sign?.byIssuer === undefined || c.claims?.issuer !== undefined, { message: 'sign-by-issuer needs claims.issuer', path: ['claims', 'issuer'] })
  .meta({ anyOf: [{ required: ['sign'] }, { required: ['encrypt'] }] });

export type JoseImplementationConfig = z.output<typeof joseImplementationConfigSchema>;
