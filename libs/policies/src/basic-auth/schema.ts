import { z } from 'zod';
import { entityName } from '@idm/domain';
import { challengeRealm } from '../schema-types';

export const basicAuthConfigSchema = z.strictObject({
  /** Shown by browsers in the login prompt; quoted in the challenge, so no quotes or backslashes. */
  realm: challengeRealm.default('identity-manager'),
  /** Remove the Authorization header before the request goes upstream. */
  stripAuthorization: z.boolean().default(true),
  /**
   * Identity sources (by name, in order: a fallback list) that check the password of a username
   * the project has no credential for. System sources or the proxy's project's.
   */
  identitySources: z.array(entityName).max(10).default([]),
});

export type BasicAuthConfig = z.output<typeof basicAuthConfigSchema>;
