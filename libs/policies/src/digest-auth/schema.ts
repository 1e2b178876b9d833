import { z } from 'zod';

export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

export const digestAuthConfigSchema = z.strictObject({
  /**
   * Accepted algorithms; the challenge offers them in this order (clients such as curl take the
   * first). MD5 only for old clients that know nothing better.
   */
  algorithms: z
    .array(z.enum(DIGEST_ALGORITHMS))
    .min(1)
    .max(2)
    .refine((a) => new Set(a).size === a.length, 'algorithms must be unique')
    .default(['SHA-256', 'MD5']),
  /** How long a server nonce is accepted; after that the client is challenged again with stale=true. */
  nonceLifetimeSeconds: z
    .number()
    .int()
    .min(10)
    .max(24 * 3600)
    .default(300),
  /** Remove the Authorization header before the request goes upstream. */
  stripAuthorization: z.boolean().default(true),
});

export type DigestAuthConfig = z.output<typeof digestAuthConfigSchema>;
