import { z } from 'zod';
import { challengeRealm, httpToken } from '../schema-types';

export const base64AuthConfigSchema = z.strictObject({
  /** Header carrying base64(`username:password`), an optional "Basic " prefix allowed (curl --basic). */
  header: httpToken.default('authorization').transform((h) => h.toLowerCase()),
  /** Query parameter that may carry it instead; null disables it (credentials in URLs end up in logs). */
  queryParam: httpToken.nullable().default(null),
  /** false: the value is base64(`username`) and only the username is checked (trusted callers only). */
  passwordCheck: z.boolean().default(true),
  /** Remove the credential from the request before it goes upstream. */
  stripCredential: z.boolean().default(true),
  realm: challengeRealm.default('identity-manager'),
});

export type Base64AuthConfig = z.output<typeof base64AuthConfigSchema>;
