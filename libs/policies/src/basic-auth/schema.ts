import { z } from 'zod';

export const basicAuthConfigSchema = z.strictObject({
  /** Shown by browsers in the login prompt; quoted in the challenge, so no quotes or backslashes. */
  realm: z.string().min(1).max(128).regex(/^[^"\\\u0000-\u001f\u007f]+$/, 'must not contain quotes, backslashes or control characters').default('identity-manager'),
  /** Remove the Authorization header before the request goes upstream. */
  stripAuthorization: z.boolean().default(true),
});

export type BasicAuthConfig = z.output<typeof basicAuthConfigSchema>;
