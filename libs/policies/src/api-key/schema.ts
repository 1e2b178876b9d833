import { z } from 'zod';

// Header and query names end up in a WWW-Authenticate challenge, so no quotes or separators.
const token = z.string().min(1).max(64).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP token (letters, digits, "-", "_", ...)');

export const apiKeyConfigSchema = z.strictObject({
  /** Request header that carries the key; compared case-insensitively, as HTTP requires. */
  header: token.default('x-api-key').transform((h) => h.toLowerCase()),
  /** Query parameter that may carry the key instead; null disables it (keys in URLs end up in logs). */
  queryParam: token.nullable().default(null),
  /** Remove the key from the request before it goes upstream. */
  stripCredential: z.boolean().default(true),
});

export type ApiKeyConfig = z.output<typeof apiKeyConfigSchema>;
