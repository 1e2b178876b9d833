import { z } from 'zod';

/**
 * The Manager's view of the Gateways' auth records (`/api/v1/analytics/auth` and its live tail).
 * Filters are shared by both; the reader sees only records of projects where it holds
 * `analytics:read`.
 */
export const AUTH_ANALYTICS_OUTCOMES = ['success', 'denied', 'throttled', 'blocked'] as const;
export const AUTH_ANALYTICS_BUCKETS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
/** More buckets than this in one answer is refused (`too_many_buckets`): ask for a coarser bucket. */
export const AUTH_ANALYTICS_MAX_BUCKETS = 1_500;

const name = z.string().min(1).max(200);

export const authRecordFilterSchema = z.strictObject({
  environment: name.optional(),
  projectId: z.string().min(1).max(64).optional(),
  proxyId: z.string().min(1).max(64).optional(),
  credentialId: z.string().min(1).max(64).optional(),
  /** The deciding policy as recorded: `api-key`, `basic-auth`, `token-endpoint:/credential/token`, `oidc-login:<client id>`, … */
  policy: z.string().min(1).max(100).optional(),
  /** The OAuth client (token endpoints, bearer tokens, OP logins). */
  clientId: z.string().min(1).max(256).optional(),
  outcome: z.enum(AUTH_ANALYTICS_OUTCOMES).optional(),
});

export const authAnalyticsQuerySchema = authRecordFilterSchema.extend({
  /** Start of the window (default: 24 hours before `to`). */
  from: z.iso.datetime({ offset: true }).optional(),
  /** End of the window, exclusive (default: now). */
  to: z.iso.datetime({ offset: true }).optional(),
  bucket: z.enum(['minute', 'hour', 'day']).default('hour'),
  /** Entries of each ranking (by credential, proxy, …, top failing). */
  top: z.coerce.number().int().min(1).max(100).default(10),
});

const counted = <T extends z.ZodRawShape>(shape: T) => z.object({ ...shape, count: z.number().int() });

export const authAnalyticsSchema = z.object({
  from: z.string(),
  to: z.string(),
  bucket: z.enum(['minute', 'hour', 'day']),
  /** Which store answered: `postgresql` or `elasticsearch`. */
  source: z.enum(['postgresql', 'elasticsearch']),
  total: z.number().int(),
  /** Per bucket (only buckets with records), counts by outcome. */
  series: z.array(z.object({ start: z.string(), success: z.number().int(), denied: z.number().int(), throttled: z.number().int(), blocked: z.number().int() })),
  byOutcome: z.array(counted({ outcome: z.string() })),
  byReason: z.array(counted({ reason: z.string().nullable() })),
  byCredential: z.array(counted({ credentialId: z.string().nullable(), username: z.string().nullable() })),
  byProxy: z.array(counted({ proxyId: z.string().nullable(), proxyName: z.string().nullable() })),
  byIssuer: z.array(counted({ issuer: z.string().nullable() })),
  /** Refused requests (any outcome but success) by the name presented. */
  topFailingCredentials: z.array(counted({ credentialId: z.string().nullable(), username: z.string().nullable() })),
  topFailingAddresses: z.array(counted({ clientIp: z.string() })),
  /** LLM token spend per credential (LLM routes only). */
  tokenSpendByCredential: z.array(z.object({ credentialId: z.string().nullable(), username: z.string().nullable(), totalTokens: z.number().int() })),
});

export type AuthRecordFilter = z.infer<typeof authRecordFilterSchema>;
export type AuthAnalyticsQuery = z.infer<typeof authAnalyticsQuerySchema>;
export type AuthAnalytics = z.infer<typeof authAnalyticsSchema>;
