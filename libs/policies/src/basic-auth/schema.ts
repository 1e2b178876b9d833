import { z } from 'zod';
import { challengeRealm } from '../schema-types';

export const basicAuthConfigSchema = z.strictObject({
  /** Shown by browsers in the login prompt; quoted in the challenge, so no quotes or backslashes. */
  realm: challengeRealm.default('identity-manager'),
  /** Remove the Authorization header before the request goes upstream. */
  stripAuthorization: z.boolean().default(true),
});

export type BasicAuthConfig = z.output<typeof basicAuthConfigSchema>;
