import { z } from 'zod';

/**
 * When Redis has lost a token, a Gateway asks the Manager for its durable copy over the bus
 * (request/reply on the @nestjs/microservices Redis transport) instead of opening the database.
 */
export const TOKEN_LOOKUP = 'tokens.lookup';

export const tokenLookupRequestSchema = z.object({
  tokenHash: z.string().min(1),
  environment: z.string().min(1),
});
export type TokenLookupRequest = z.infer<typeof tokenLookupRequestSchema>;

/** The stored copy of a live token, or null when unknown, expired or revoked. */
export const tokenLookupReplySchema = z
  .object({
    kind: z.enum(['access', 'refresh']),
    familyId: z.string().nullable(),
    /** As the Gateway queued it; the Gateway checks it against its own record schema when it reads it back. */
    record: z.record(z.string(), z.unknown()),
    /** Epoch milliseconds, or null for tokens that never expire. */
    expiresAt: z.number().int().nullable(),
  })
  .nullable();
export type TokenLookupReply = z.infer<typeof tokenLookupReplySchema>;
