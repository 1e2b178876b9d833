import { z } from 'zod';
import { tokenConfirmationSchema } from './sender-constraint/token-binding';

export const opaqueTokenKindSchema = z.enum(['access', 'refresh']);
export type OpaqueTokenKind = z.infer<typeof opaqueTokenKindSchema>;

/** What a token grants; the same for every token of a family. */
export const opaqueTokenGrantSchema = z.object({
  clientId: z.string(),
  credentialId: z.string().optional(),
  subject: z.string(),
  /** Space-separated scope values (RFC 6749 §3.3). */
  scope: z.string(),
  proxyId: z.string().optional(),
  environment: z.string(),
  /** Address of the client that asked for the grant (forwarded-for rules of the token service). */
  clientIp: z.string().optional(),
  /** Sender constraint (DPoP key / client certificate thumbprint); absent: a bearer token. */
  cnf: tokenConfirmationSchema.optional(),
  /** When the end user signed in (epoch seconds), for a grant from an OpenID Connect login: a refresh's new ID token keeps it (OIDC Core §12.2). */
  authTime: z.number().int().nonnegative().optional(),
});
export type OpaqueTokenGrant = z.infer<typeof opaqueTokenGrantSchema>;

/**
 * A token's record. A schema because it also travels: the Gateway queues it to the Manager for
 * the durable copy and reads it back over the bus (`tokens.lookup`) when Redis lost the token.
 */
export const opaqueTokenRecordSchema = opaqueTokenGrantSchema.extend({
  kind: opaqueTokenKindSchema,
  /** Epoch seconds. */
  issuedAt: z.number(),
  /** Epoch seconds. */
  expiresAt: z.number(),
  familyId: z.string(),
  /** How many rotations led to this token; 0 for tokens of the original grant. */
  refreshCount: z.number().int().nonnegative(),
});
export type OpaqueTokenRecord = z.infer<typeof opaqueTokenRecordSchema>;
