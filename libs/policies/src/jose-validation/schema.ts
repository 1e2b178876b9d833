import { z } from 'zod';
import {
  JWE_CONTENT_ENCRYPTIONS,
  JWE_KEY_ALGORITHMS,
  JWS_ALGORITHMS,
  keySourceSchema,
  payloadSourceSchema,
  variableName,
  writableHeaderName,
  x5cKeySourceSchema,
} from '../jose-keys/schema';

const claimName = z.string().min(1).max(64);

/**
 * jose-validation: verify (JWS) and/or decrypt (JWE) a token read from a header, the body or a
 * variable, check its claims, and hand claims on as upstream headers and variables. Decrypt runs
 * first (a nested JWT is signed, then encrypted). Algorithms are listed explicitly: never `none`,
 * and a key is used only with the algorithms its type allows (no HS/RS confusion).
 */
export const joseValidationConfigSchema = z
  .strictObject({
    /** `request`: the client's request; `response`: the upstream's answer (failures: 502). */
    phase: z.enum(['request', 'response']).default('request'),
    token: payloadSourceSchema.default({ from: 'header', name: 'authorization', scheme: 'Bearer' }),
    verify: z
      .strictObject({
        key: z.union([keySourceSchema, x5cKeySourceSchema]),
        algorithms: z.array(z.enum(JWS_ALGORITHMS)).min(1).max(13),
      })
      .optional(),
    decrypt: z
      .strictObject({
        key: keySourceSchema,
        keyManagementAlgorithms: z.array(z.enum(JWE_KEY_ALGORITHMS)).min(1),
        contentEncryptionAlgorithms: z.array(z.enum(JWE_CONTENT_ENCRYPTIONS)).min(1).default(['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512']),
      })
      .optional(),
    /** The payload is a JWT claims set: claims are checked and can be projected. false: any content. */
    jwt: z.boolean().default(true),
    issuers: z.array(z.string().min(1).max(512)).max(20).default([]),
    audiences: z.array(z.string().min(1).max(512)).max(20).default([]),
    requiredClaims: z.array(claimName).max(20).default([]),
    /** Refuse a token issued (`iat`) longer ago than this; omitted: no limit beyond `exp`. */
    maxAgeSeconds: z.number().int().min(1).max(31_536_000).optional(),
    clockSkewSeconds: z.number().int().min(0).max(300).default(30),
    /** Claim -> upstream request header (arrays joined with ","). */
    claimHeaders: z.record(claimName, writableHeaderName).default({}),
    /** Claim -> request variable, for later policies (`${var.<name>}`). */
    claimVariables: z.record(claimName, variableName).default({}),
    /** Replace the body with the verified/decrypted payload (e.g. a signed JSON body forwarded as plain JSON). */
    replaceBodyWithPayload: z.boolean().default(false),
    /** Remove the token's header before the request goes upstream. */
    stripToken: z.boolean().default(true),
    maxTokenBytes: z
      .number()
      .int()
      .min(256)
      .max(10 * 1024 * 1024)
      .default(256 * 1024),
  })
  .refine((c) => c.verify !== undefined || c.decrypt !== undefined, { message: 'verify, decrypt or both', path: ['verify'] })
  .refine((c) => c.phase === 'request' || Object.keys(c.claimHeaders).length === 0, { message: 'claim headers go upstream: request phase only', path: ['claimHeaders'] })
  .meta({ anyOf: [{ required: ['verify'] }, { required: ['decrypt'] }] });

export type JoseValidationConfig = z.output<typeof joseValidationConfigSchema>;
