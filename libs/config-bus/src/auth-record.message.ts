import { z } from 'zod';

/**
 * The auth record: one authentication decision of a Gateway (a proxy's policy chain, a token
 * endpoint), Gateway -> Redis stream -> indexer -> sink (PostgreSQL or Elasticsearch) -> Manager
 * analytics and tail. Never a secret: a password, a full token or an API key never goes in (an
 * API key's visible prefix at most); the schema bounds every string so a record cannot smuggle one
 * in bulk either.
 */
export const AUTH_OUTCOMES = ['success', 'denied', 'throttled', 'blocked'] as const;
export type AuthOutcome = (typeof AUTH_OUTCOMES)[number];

const text = (max: number) => z.string().max(max);

export const llmUsageSchema = z.object({
  model: text(200).nullable(),
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
  totalTokens: z.number().int().min(0),
  /** True when counted with a tokenizer because the upstream gave no `usage`. */
  estimated: z.boolean(),
});
export type LlmUsage = z.infer<typeof llmUsageSchema>;

export const authRecordSchema = z.object({
  /** Unique per decision (UUID), made on the Gateway: the sinks' idempotency key (a redelivered record is written once). */
  id: z.uuid(),
  /** Epoch milliseconds of the decision. */
  time: z.number().int().min(0),
  environment: text(63),
  gatewayId: text(200),
  /** The proxy whose chain decided (null on the token endpoints of `/credential`). */
  proxyId: text(64).nullable(),
  proxyName: text(200).nullable(),
  /** The project of the proxy or of the token client: what the Manager's readers are filtered by. */
  projectId: text(64).nullable(),
  /** The policy that decided (`api-key`, `basic-auth`, …), the token endpoint (`token-endpoint:/credential/token`) or the OP login page (`oidc-login:<client id>`). */
  policy: text(100).nullable(),
  outcome: z.enum(AUTH_OUTCOMES),
  /** The rejection reason code (`invalid_api_key`, `invalid_client`, …); null on success. */
  reason: text(100).nullable(),
  status: z.number().int().min(100).max(599),
  credentialId: text(64).nullable(),
  /** The username (or token client id) presented or authenticated; never a password. */
  username: text(256).nullable(),
  /**
   * The OAuth client of the decision, when known: at a token endpoint the id the client's tokens
   * carry (a credential's id, a proxy client's id) once it authenticated, else the id presented;
   * the client a verified access token was issued to (jwt-auth, oauth2-auth, a key manager's
   * `client_id`/`azp`); the OIDC client of an OP login. Optional: records queued by Gateways older than the field carry none (null).
   */
  clientId: text(256).nullable().optional(),
  /** An API key's visible prefix (`idm_xxxxxxxx`), never the key. */
  keyPrefix: text(32).nullable(),
  /** Key manager / token issuer that decided (the token service's issuer URL, a JWT's `iss`). */
  issuer: text(500).nullable(),
  /** `opaque` or `jwt` for token decisions; null otherwise. */
  tokenType: text(20).nullable(),
  clientIp: text(64),
  /** ISO 3166 alpha-2, when geo is on. */
  country: text(2).nullable(),
  userAgent: text(512).nullable(),
  requestId: text(200),
  /** Milliseconds from the request's arrival to the decision. */
  latencyMs: z.number().min(0),
  /** Token spend of an LLM route's call, when the route is one. */
  llm: llmUsageSchema.nullable().optional(),
});
export type AuthRecord = z.infer<typeof authRecordSchema>;

/**
 * The durable queue: one Redis stream, consumed by the indexers' group. One entry carries a batch
 * of records (field `r`, a JSON array), so a Gateway pays one XADD per batch and the indexers
 * one XREADGROUP per many records. The hash tag keeps it (and the tail channel) in one Cluster slot.
 */
export const AUTH_RECORDS_STREAM = '{idm:auth-records}:stream';
export const AUTH_RECORDS_GROUP = 'indexers';
/** Records in the stream not yet indexed (Gateways add, indexers subtract as they acknowledge): the queue's bound is on it. */
export const AUTH_RECORDS_QUEUED_KEY = '{idm:auth-records}:queued';
/** Pub/sub channel of the realtime tail: every Gateway publishes its batches here, every Manager listens. */
export const AUTH_RECORDS_LIVE_CHANNEL = '{idm:auth-records}:live';
export const AUTH_RECORDS_BATCH_FIELD = 'r';

/** Longest string fields are cut to the schema's bound on the Gateway (a user agent can be longer than we keep). */
export function clipped(value: string | undefined | null, max: number): string | null {
  if (value === undefined || value === null) return null;
  return value.length <= max ? value : value.slice(0, max);
}

export const authRecordBatchSchema = z.array(authRecordSchema).max(10_000);
