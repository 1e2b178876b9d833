import { z } from 'zod';

/**
 * The Gateway -> Manager half of the opaque-token contract. Gateways keep live tokens in Redis
 * and queue a durable copy (BullMQ) that the Manager writes to PostgreSQL.
 */
export const TOKEN_PERSIST_QUEUE = 'idm-token-persist';
/** BullMQ key prefix of the queue (Gateways and Manager): a hash tag, because BullMQ's scripts touch several keys of a queue and a Redis Cluster runs a script only on keys of one slot. */
export const TOKEN_PERSIST_PREFIX = '{idm}';

const tokenHash = z.string().min(1);

export const tokenPersistJobSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('issue'),
    tokenHash,
    kind: z.enum(['access', 'refresh']),
    environment: z.string().min(1),
    familyId: z.string().nullable(),
    /** The Gateway's record of the token; the Manager stores it as given and the Gateway reads it back (`tokens.lookup`). */
    record: z.record(z.string(), z.unknown()),
    /** Epoch milliseconds, or null for tokens that never expire. */
    expiresAt: z.number().int().nullable(),
  }),
  z.object({ op: z.literal('revoke'), tokenHash }),
  z.object({ op: z.literal('revoke-family'), familyId: z.string().min(1) }),
]);
export type TokenPersistJob = z.infer<typeof tokenPersistJobSchema>;
