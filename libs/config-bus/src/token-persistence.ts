/**
 * The Gateway <-> Manager contract for opaque tokens. Gateways keep live tokens in Redis and
 * queue a durable copy (BullMQ) that the Manager writes to PostgreSQL; when Redis has lost a
 * token, a Gateway asks the Manager over the bus (`tokens.lookup`) instead of the database.
 */
export const TOKEN_PERSIST_QUEUE = 'idm-token-persist';
export const TOKEN_LOOKUP = 'tokens.lookup';

export type TokenPersistJob =
  | {
      op: 'issue';
      tokenHash: string;
      kind: 'access' | 'refresh';
      environment: string;
      familyId: string | null;
      record: Record<string, unknown>;
      /** Epoch milliseconds, or null for tokens that never expire. */
      expiresAt: number | null;
    }
  | { op: 'revoke'; tokenHash: string }
  | { op: 'revoke-family'; familyId: string };

export interface TokenLookupRequest {
  tokenHash: string;
  environment: string;
}

/** The stored record of a live token, or null when unknown, expired or revoked. */
export type TokenLookupReply = { kind: 'access' | 'refresh'; familyId: string | null; record: Record<string, unknown>; expiresAt: number | null } | null;
