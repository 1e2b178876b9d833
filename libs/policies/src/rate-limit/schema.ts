import { rateLimitRulesSchema } from '@idm/domain';
import { z } from 'zod';

/** The proxy-wide form of the per-credential rate limit (same limits, quotas and Redis rule). */
export const rateLimitConfigSchema = rateLimitRulesSchema
  .extend({
    /**
     * Whose requests share a counter: every caller of the proxy ("proxy"), each credential
     * ("credential"; the policy must come after an authentication policy) or each client IP ("ip").
     */
    keyBy: z
      .enum(['proxy', 'credential', 'ip'])
      .meta({ title: 'Counted per', description: 'proxy: all callers share one counter; credential: each credential (after an authentication policy); ip: each client address' })
      .default('credential'),
  })
  .refine((c) => c.limits.length + c.quotas.length > 0, 'give at least one limit or quota');

export type RateLimitConfig = z.output<typeof rateLimitConfigSchema>;
