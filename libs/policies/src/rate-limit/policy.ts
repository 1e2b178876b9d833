import type { PolicyCompileDeps } from '../compile-dependencies';
import type { Policy, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { PolicyConfigError } from '../policy-config.error';
import { CompiledRateLimit } from './compiled-rate-limit';
import type { RateLimitConfig } from './schema';

const NO_IDENTITY: PolicyRejection = Object.freeze({ status: 401, code: 'missing_credentials', message: 'This API counts requests per credential; authenticate first' });

/**
 * Proxy-wide limits and quotas, counted in the shared store. Per-credential limits configured on
 * a credential are separate counters and apply as well (see credential-rules).
 */
export class RateLimitPolicy implements Policy {
  readonly type = 'rate-limit';
  private readonly limit: CompiledRateLimit;

  constructor(
    private readonly config: RateLimitConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    if (deps.rateLimitStore === null) throw new PolicyConfigError([{ path: [], message: 'rate-limit: this gateway has no rate-limit store' }]);
    this.limit = new CompiledRateLimit(config, deps.rateLimitStore, `p:${deps.proxy.id}`, deps.onRateLimitStoreError);
  }

  execute(ctx: RequestContext): Promise<PolicyOutcome> | PolicyOutcome {
    switch (this.config.keyBy) {
      case 'proxy':
        return this.limit.consume(ctx, '', this.deps.now());
      case 'ip':
        return this.limit.consume(ctx, ctx.clientIp, this.deps.now());
      default:
        if (ctx.identity === null) return NO_IDENTITY;
        return this.limit.consume(ctx, ctx.identity.credentialId, this.deps.now());
    }
  }
}
