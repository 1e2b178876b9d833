import type { PolicyCompileDeps } from '../compile-dependencies';
import type { Policy, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { PolicyConfigError } from '../policy-config.error';
import { readLlmRequest, type LlmRequest } from './llm-request';
import type { LlmRouteConfig } from './schema';
import { loadTokenizer } from './token-estimator';
import { addTokenCounters, describeCounter } from './token-budgets';
import type { TokenCounter, TokenQuotaStore } from './token-quota.store';
import { UsageMeter, type ReportedUsage } from './usage-meter';

/** What one LLM call cost, as charged to its quotas (and logged / recorded). */
export interface LlmSpend {
  readonly model: string;
  readonly stream: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** "upstream": the answer's `usage`; "estimate": the Gateway's tokenizer; "none": the upstream refused or failed (nothing charged). */
  readonly source: 'upstream' | 'estimate' | 'none';
}

const UNAVAILABLE: PolicyRejection = Object.freeze({ status: 503, code: 'rate_limit_unavailable', message: 'The token quota cannot be checked right now; try again shortly' });
const NO_STORE: PolicyRejection = Object.freeze({
  status: 403,
  code: 'credential_rules_invalid',
  message: 'The token quotas of this credential cannot be enforced by this gateway',
});

/**
 * Marks a proxy as an LLM route. It refuses nothing in the chain (it cannot: the chain runs
 * before the body is read); the Gateway reads a POST's JSON body after the chain passed and
 * asks `admit`, which checks the model against the credential's allow-list and reserves the
 * prompt's estimated tokens in every quota of the credential and the project. The answer is
 * watched by the call's `UsageMeter` and `settle` charges what it really cost.
 */
export class LlmRoutePolicy implements Policy {
  readonly type = 'llm-route';
  readonly maxRequestBytes: number;
  private readonly store: TokenQuotaStore | null;

  constructor(
    private readonly config: LlmRouteConfig,
    private readonly deps: Pick<PolicyCompileDeps, 'proxy' | 'tokenQuotaStore' | 'onRateLimitStoreError'>,
  ) {
    this.maxRequestBytes = config.maxRequestBytes;
    this.store = deps.tokenQuotaStore ?? null;
    loadTokenizer();
    if (config.projectTokenQuotas.length > 0 && this.store === null)
      throw new PolicyConfigError([{ path: [], message: 'llm-route token quotas need a quota store (Redis), and this gateway has none' }]);
  }

  execute(): PolicyOutcome {
    return undefined;
  }

  /** After the chain passed: the call to forward, or why not. */
  async admit(ctx: RequestContext, body: Buffer, now: number): Promise<LlmCall | PolicyRejection> {
    const request = readLlmRequest(body, this.config.injectStreamUsage);
    if (typeof request === 'string') return { status: 400, code: 'llm_invalid_request', message: `Not an OpenAI-compatible request: ${request}` };
    const rules = ctx.credential?.rules?.llm ?? null;
    if (rules?.models != null && !rules.models.has(request.model)) {
      return { status: 403, code: 'llm_model_denied', message: `This credential may not use the model ${JSON.stringify(request.model)}` };
    }
    const counters: TokenCounter[] = [];
    if (rules !== null && ctx.credential !== null) addTokenCounters(counters, rules.tokenQuotas, `c:${ctx.credential.id}`, now);
    const credentialCounters = counters.length;
    addTokenCounters(counters, this.config.projectTokenQuotas, `p:${this.deps.proxy.projectId}`, now);
    if (counters.length === 0) return new LlmCall(request, null, [], 0);
    if (this.store === null) return NO_STORE;
    const failOpen = (credentialCounters === 0 || rules!.failOpen) && (credentialCounters === counters.length || this.config.onStoreUnavailable === 'allow');
    const estimate = request.promptEstimate;
    try {
      const reservation = await this.store.reserve(counters, estimate, now);
      if (reservation.admitted) return new LlmCall(request, this.store, counters, estimate, this.deps.onRateLimitStoreError);
      return refusal(counters[reservation.index], reservation.left, estimate, now);
    } catch (err) {
      this.deps.onRateLimitStoreError(err);
      return failOpen ? new LlmCall(request, null, [], 0) : UNAVAILABLE;
    }
  }
}

function refusal(counter: TokenCounter, left: number, estimate: number, now: number): PolicyRejection {
  const retryAfter = String(Math.max(1, Math.ceil((counter.windowEnd - now) / 1000)));
  return left === 0
    ? { status: 429, code: 'llm_token_quota_exceeded', message: `The token quota of ${describeCounter(counter)} is used up`, headers: { 'retry-after': retryAfter } }
    : {
        status: 429,
        code: 'llm_token_estimate_exceeds_quota',
        message: `This request's prompt is estimated at ${estimate} tokens, more than the ${left} left of ${describeCounter(counter)}`,
        headers: { 'retry-after': retryAfter },
      };
}

/**
 * One admitted call: the body to send and the accounting of its answer. `meter` is made when
 * the answer's head arrives; `settle` once it ended (complete, cut short or failed).
 */
export class LlmCall {
  private meter: UsageMeter | null = null;
  private settled = false;

  constructor(
    readonly request: LlmRequest,
    private readonly store: TokenQuotaStore | null,
    private readonly counters: readonly TokenCounter[],
    /** Tokens reserved in `counters` at admission. */
    private readonly reserved: number,
    private readonly onStoreError: (err: unknown) => void = () => {},
  ) {}

  /** The upstream's answer head: JSON and SSE answers of a success are metered. */
  answered(status: number, contentType: string | undefined): UsageMeter | null {
    if (status >= 200 && status < 300) this.meter = new UsageMeter(contentType);
    return this.meter;
  }

  /**
   * What the call cost, charged to its quotas. The upstream's usage when it reported one;
   * otherwise, for an answered success, the estimated prompt plus the text it generated; for a
   * refusal or failure of the upstream, nothing. Charges once, however often it is called.
   */
  settle(now: number): LlmSpend {
    const reported: ReportedUsage | null = this.meter?.finish() ?? null;
    const { model, stream } = this.request;
    let spend: LlmSpend;
    if (reported !== null) spend = { model, stream, ...reported, source: 'upstream' };
    else if (this.meter !== null) {
      const prompt = this.request.promptEstimate;
      const completion = this.meter.completionEstimate();
      spend = { model, stream, promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion, source: 'estimate' };
    } else spend = { model, stream, promptTokens: 0, completionTokens: 0, totalTokens: 0, source: 'none' };
    if (this.store !== null && !this.settled) this.store.settle(this.counters, spend.totalTokens - this.reserved, now).catch(this.onStoreError);
    this.settled = true;
    return spend;
  }
}
