import { credentialAccessSchema } from '@idm/domain';
import type { CredentialLlmRules, CredentialRuleSet, Policy, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { CompiledRateLimit } from '../rate-limit/compiled-rate-limit';
import type { RateLimitStore } from '../rate-limit/rate-limit.store';
import { RememberedAddressRule, type AddressRule } from './remembered-address.rule';
import { AclRule } from './acl.rule';
import { GeoRule } from './geo.rule';
import { IpGroupsRule } from './ip-groups.rule';
import { TimeWindowRule } from './time-window.rule';

export interface CredentialRulesDeps {
  rateLimitStore: RateLimitStore | null;
  onRateLimitStoreError: (err: unknown) => void;
}

const INVALID: PolicyRejection = Object.freeze({
  status: 403,
  code: 'credential_rules_invalid',
  message: 'The access rules of this credential cannot be enforced by this gateway',
});

/**
 * A credential's authorization rules, compiled once per revision and evaluated after
 * authentication in a fixed order (ACL, IP groups, geo, time windows, rate limits), each with
 * its own reason code. Rules this Gateway cannot enforce (invalid, or rate limits without a
 * store) refuse every request of the credential: failing closed beats ignoring a restriction.
 */
export class CredentialRules implements CredentialRuleSet {
  private constructor(
    private readonly acl: AclRule | null,
    private readonly ip: AddressRule | null,
    private readonly geo: AddressRule | null,
    private readonly time: TimeWindowRule | null,
    private readonly rateLimit: CompiledRateLimit | null,
    private readonly invalid: boolean,
    readonly llm: CredentialLlmRules | null = null,
  ) {}

  /** null when the credential has no rules (the common case costs nothing per request). */
  static compile(credentialId: string, access: Record<string, unknown>, deps: CredentialRulesDeps): CredentialRules | null {
    if (Object.keys(access).length === 0) return null;
    const parsed = credentialAccessSchema.safeParse(access);
    if (!parsed.success) return new CredentialRules(null, null, null, null, null, true);
    const a = parsed.data;
    const limited = a.rateLimit !== undefined && a.rateLimit.limits.length + a.rateLimit.quotas.length > 0;
    if (limited && deps.rateLimitStore === null) return new CredentialRules(null, null, null, null, null, true);
    return new CredentialRules(
      a.acl ? new AclRule(a.acl) : null,
      a.ip && a.ip.allow.length + a.ip.deny.length > 0 ? new RememberedAddressRule(new IpGroupsRule(a.ip)) : null,
      a.geo && (a.geo.allowedCountries.length + a.geo.deniedCountries.length > 0 || a.geo.unknownLocation === 'deny') ? new RememberedAddressRule(new GeoRule(a.geo)) : null,
      a.time ? new TimeWindowRule(a.time) : null,
      limited ? new CompiledRateLimit(a.rateLimit!, deps.rateLimitStore!, `c:${credentialId}`, deps.onRateLimitStoreError) : null,
      false,
      a.llm ? { models: a.llm.models === null ? null : new Set(a.llm.models), tokenQuotas: a.llm.tokenQuotas, failOpen: a.llm.onStoreUnavailable === 'allow' } : null,
    );
  }

  evaluate(ctx: RequestContext, proxy: { id: string; basePath: string }, now: number): PolicyOutcome | Promise<PolicyOutcome> {
    if (this.invalid) return INVALID;
    let refused: PolicyRejection | undefined;
    if (this.acl !== null && (refused = this.acl.check(proxy.id, ctx.method, ctx.path.slice(proxy.basePath.length) || '/'))) return refused;
    if (this.ip !== null && (refused = this.ip.check(ctx.clientIp))) return refused;
    if (this.geo !== null && (refused = this.geo.check(ctx.clientIp))) return refused;
    if (this.time !== null && (refused = this.time.check(now))) return refused;
    if (this.rateLimit !== null) return this.rateLimit.consume(ctx, '', now);
    return undefined;
  }
}

/** Inserted into a proxy's chain right after its first authentication policy. */
export class CredentialRulesStep implements Policy {
  readonly type = 'credential-rules';

  constructor(
    private readonly proxy: { id: string; basePath: string },
    private readonly now: () => number,
  ) {}

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const rules = ctx.credential?.rules;
    return rules ? rules.evaluate(ctx, this.proxy, this.now()) : undefined;
  }
}
