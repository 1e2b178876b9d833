import { z } from 'zod';
import { httpToken } from '../schema-types';

export const apiKeyConfigSchema = z.strictObject({
  /** Request header that carries the key; compared case-insensitively, as HTTP requires. */
  header: httpToken.default('x-api-key').transform((h) => h.toLowerCase()),
  /** Query parameter that may carry the key instead; null disables it (keys in URLs end up in logs). */
  queryParam: httpToken.nullable().default(null),
  /** Remove the key from the request before it goes upstream. */
  stripCredential: z.boolean().default(true),
});

export type ApiKeyConfig = z.output<typeof apiKeyConfigSchema>;
