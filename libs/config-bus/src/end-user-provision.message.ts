import { z } from 'zod';

/**
 * Just-in-time provisioning of federated end users. When an identity source verifies a password
 * at the login page or the password grant, the Gateway asks the Manager over the bus
 * (request/reply, like `tokens.lookup`) to create or refresh the end user linked to that source:
 * the Gateway never writes the database, and the user reaches every Gateway by the ordinary
 * publication. The request carries what the directory said, never the password.
 */
export const END_USER_PROVISION = 'end-users.provision';

export const endUserProvisionRequestSchema = z.object({
  environment: z.string().min(1).max(128),
  projectId: z.string().min(1).max(64),
  sourceId: z.string().min(1).max(64),
  username: z.string().min(1).max(256),
  email: z.string().max(320).nullable(),
  displayName: z.string().max(1024).nullable(),
  /** Roles mapped from the user's groups by the source's group -> role mapping. */
  roles: z.array(z.string().max(256)).max(200),
});
export type EndUserProvisionRequest = z.infer<typeof endUserProvisionRequestSchema>;

/**
 * `provisioned`: the end user (created or refreshed) and the roles it is published with.
 * `refused`: no end user for this login, with a reason for the Gateway's log — the username is
 * taken by a local user or another source's (no account takeover through a directory), the source
 * is unknown, disabled or not usable by the project, or the directory's values are not a valid user.
 */
export const endUserProvisionReplySchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('provisioned'), credentialId: z.string(), roles: z.array(z.string()) }),
  z.object({ outcome: z.literal('refused'), reason: z.enum(['username_taken', 'source_not_usable', 'invalid_identity']) }),
]);
export type EndUserProvisionReply = z.infer<typeof endUserProvisionReplySchema>;
