import { z } from 'zod';

/*
 * Field types shared by policy schemas (Kong's typedefs), so two policies never spell the same
 * rule twice. Zod only: the schemas entry point loads this.
 */

/** A header or query-parameter name that goes into a WWW-Authenticate challenge: no quotes or separators. */
export const httpToken = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP token (letters, digits, "-", "_", ...)');

/** An auth realm: shown by browsers in the login prompt and quoted in the challenge. */
export const challengeRealm = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^"\\\u0000-\u001f\u007f]+$/, 'must not contain quotes, backslashes or control characters');

/** A header name, lower-cased as node:http delivers them. */
export const headerName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a header name')
  .transform((h) => h.toLowerCase());

/** An HTTP method, upper-cased. */
export const httpMethod = z
  .string()
  .regex(/^[A-Za-z]{1,16}$/)
  .transform((m) => m.toUpperCase());
