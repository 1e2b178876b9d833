import { z } from 'zod';
import { httpToken } from '../schema-types';

export const apiKeyConfigSchema = z.strictObject({
  /** Request header that carries the key; compared case-insensitively, as HTTP requires. */
  header: httpToken
    .meta({ title: 'Header', description: 'Request header that carries the key' })
    .default('x-api-key')
    .transform((h) => h.toLowerCase()),
  /** Query parameter that may carry the key instead; null disables it (keys in URLs end up in logs). */
  queryParam: httpToken
    .nullable()
    .meta({ title: 'Query parameter', description: 'Also read the key from this query parameter; empty: never (keys in URLs end up in logs)' })
    .default(null),
  /** Remove the key from the request before it goes upstream. */
  stripCredential: z.boolean().meta({ title: 'Remove the key before the upstream' }).default(true),
});

export type ApiKeyConfig = z.output<typeof apiKeyConfigSchema>;
