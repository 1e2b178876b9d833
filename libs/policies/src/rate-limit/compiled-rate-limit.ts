import type { RateLimitRules } from '@idm/domain';
import type { PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import type { RateLimitCounter, RateLimitStore, RateLimitVerdict } from './rate-limit.store';

interface CounterSpec {
  readonly name: string;
  readonly limit: number;
  /** Window length in seconds, as announced in RateLimit-Policy. */
  readonly seconds: number;
  readonly sliding: boolean;
  /** Fixed windows: [start, end) of the window that contains `now`, epoch ms. */
  readonly bounds: ((now: number) => [number, number]) | null;
  readonly code: 'rate_limited' | 'quota_exceeded';
}

const UNAVAILABLE: PolicyRejection = Object.freeze({ status: 503, code: 'rate_limit_unavailable', message: 'The rate limit cannot be checked right now; try again shortly' });

/**
 * A set of limits and quotas compiled once: counter names, window arithmetic and the
 * RateLimit-Policy header are prepared here, so a request builds its keys and asks the store
 * once. What the client gets back follows draft-ietf-httpapi-ratelimit-headers:
 * RateLimit-Limit/-Remaining/-Reset (seconds) and RateLimit-Policy on every answer, and
 * Retry-After on a 429.
 */
export class CompiledRateLimit {
  private readonly specs: readonly CounterSpec[];
  private readonly policyHeader: string;
  private readonly failOpen: boolean;

  constructor(
    rules: RateLimitRules,
    private readonly store: RateLimitStore,
    /** Names this rule set inside the store, e.g. "c:<credentialId>" or "p:<proxyId>". */
    private readonly scope: string,
    private readonly onStoreError: (err: unknown) => void,
  ) {
    const specs: CounterSpec[] = [];
    rules.limits.forEach((l, i) => {
      const ms = l.windowSeconds * 1000;
      specs.push({
        name: `l${i}:${l.algorithm[0]}${l.windowSeconds}`,
        limit: l.limit,
        seconds: l.windowSeconds,
        sliding: l.algorithm === 'sliding',
        bounds:
          l.algorithm === 'sliding'
            ? null
            : (now) => {
                const start = now - (now % ms);
                return [start, start + ms];
              },
        code: 'rate_limited',
      });
    });
    for (const q of rules.quotas)
      specs.push({ name: `q:${q.period}`, limit: q.limit, seconds: PERIOD_SECONDS[q.period], sliding: false, bounds: periodBounds(q.period), code: 'quota_exceeded' });
    this.specs = specs;
    this.failOpen = rules.onStoreUnavailable === 'allow';
    this.policyHeader = specs.map((s) => `${s.limit};w=${s.seconds}`).join(', ');
  }

  get empty(): boolean {
    return this.specs.length === 0;
  }

  /**
   * `subject` distinguishes callers sharing this rule set (e.g. per client IP); "" for none.
   * Synchronous when the store decides from what this Gateway holds (no round trip).
   */
  consume(ctx: RequestContext, subject: string, now: number): PolicyOutcome | Promise<PolicyOutcome> {
    const counters = new Array<RateLimitCounter>(this.specs.length);
    for (let i = 0; i < this.specs.length; i++) {
      const s = this.specs[i];
      if (s.sliding) counters[i] = { key: `${this.scope}:${subject}:${s.name}`, limit: s.limit, window: s.seconds * 1000, sliding: true };
      else {
        const [start, end] = s.bounds!(now);
        counters[i] = { key: `${this.scope}:${subject}:${s.name}:${start}`, limit: s.limit, window: end, sliding: false };
      }
    }
    const verdict = this.store.consume(counters, now);
    if (!(verdict instanceof Promise)) return this.answer(ctx, verdict);
    return verdict.then(
      (v) => this.answer(ctx, v),
      (err: unknown) => {
        this.onStoreError(err);
        return this.failOpen ? undefined : UNAVAILABLE;
      },
    );
  }

  private answer(ctx: RequestContext, verdict: RateLimitVerdict): PolicyOutcome {
    const spec = this.specs[verdict.index];
    const resetSeconds = String(Math.max(1, Math.ceil(verdict.resetMs / 1000)));
    const headers: Record<string, string> = {
      'ratelimit-limit': String(spec.limit),
      'ratelimit-remaining': String(verdict.remaining),
      'ratelimit-reset': resetSeconds,
      'ratelimit-policy': this.policyHeader,
    };
    if (verdict.allowed) {
      ctx.responseHeaders = ctx.responseHeaders === null ? headers : Object.assign(ctx.responseHeaders, headers);
      return undefined;
    }
    headers['retry-after'] = resetSeconds;
    const message =
      spec.code === 'quota_exceeded'
        ? `The quota of ${spec.limit} requests per ${spec.name.slice(2)} is used up`
        : `At most ${spec.limit} requests per ${spec.seconds} s are allowed`;
    return { status: 429, code: spec.code, message, headers };
  }
}

const PERIOD_SECONDS = { minute: 60, hour: 3600, day: 86400, month: 31 * 86400 } as const;

/** Calendar periods in UTC; a month is from the 1st to the 1st. [start, end) of the period that contains `now`, epoch ms. */
export function periodBounds(period: keyof typeof PERIOD_SECONDS): (now: number) => [number, number] {
  if (period === 'month') {
    return (now) => {
      const d = new Date(now);
      return [Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)];
    };
  }
  const ms = PERIOD_SECONDS[period] * 1000;
  return (now) => {
    const start = now - (now % ms);
    return [start, start + ms];
  };
}
