import { z } from 'zod';

const token = z.string().min(1).max(64).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP token (letters, digits, "-", "_", ...)');

export const base64AuthConfigSchema = z.strictObject({
  /** Header carrying base64(`username:password`), an optional "Basic " prefix allowed (curl --basic). */
  header: token.default('authorization').transform((h) => h.toLowerCase()),
  /** Query parameter that may carry it instead; null disables it (credentials in URLs end up in logs). */
  queryParam: token.nullable().default(null),
  /** false: the value is base64(`username`) and only the username is checked (trusted callers only). */
  passwordCheck: z.boolean().default(true),
  /** Remove the credential from the request before it goes upstream. */
  stripCredential: z.boolean().default(true),
  realm: z.string().min(1).max(128).regex(/^[^"\\\u0000-\u001f\u007f]+$/, 'must not contain quotes, backslashes or control characters').default('identity-manager'),
});

export type Base64AuthConfig = z.output<typeof base64AuthConfigSchema>;
