import { llmTokenQuotaSchema } from '@idm/domain';
import { z } from 'zod';

/**
 * Marks a proxy as an LLM route in front of an OpenAI-compatible upstream: the Gateway reads
 * the JSON request (model, stream), enforces the credential's model allow-list and token quotas
 * and the project's token quotas, and counts the tokens of every answer (its `usage`, or an
 * estimate). The proxy's authentication policies run as on any other proxy.
 */
export const llmRouteConfigSchema = z.strictObject({
  /**
   * Token budgets of the proxy's project, shared by every LLM route of the project that names
   * them (one counter per project and period; each route enforces the limit it names).
   */
  projectTokenQuotas: z
    .array(llmTokenQuotaSchema)
    .max(3)
    .default([])
    .refine((q) => new Set(q.map((x) => x.period)).size === q.length, 'give at most one quota per period'),
  /** When Redis cannot be asked for the project's quotas: "allow" lets the call through uncounted, "deny" answers 503. */
  onStoreUnavailable: z.enum(['allow', 'deny']).default('allow'),
  /**
   * Streamed calls (`"stream": true`) without `stream_options.include_usage` get it added, so the
   * upstream reports usage in its last chunk (the client then sees that chunk too). false: such
   * calls are counted by estimate.
   */
  injectStreamUsage: z.boolean().default(true),
  /** Largest JSON request read (the body is read whole to find the model); larger: 413. */
  maxRequestBytes: z
    .number()
    .int()
    .min(1024)
    .max(32 * 1024 * 1024)
    .default(4 * 1024 * 1024),
});

export type LlmRouteConfig = z.output<typeof llmRouteConfigSchema>;
