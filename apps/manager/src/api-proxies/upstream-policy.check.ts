import { Inject, Injectable } from '@nestjs/common';
import { UpstreamPolicy } from '@idm/domain';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ProblemError } from '../problems/problem.error';

/**
 * The Manager's half of the upstream policy: a proxy is not saved with an upstream the Gateways
 * would refuse to connect to (they check again at connect time, after DNS, so a name that
 * resolves elsewhere later is still caught). Runs before the write's transaction: DNS can be slow.
 */
@Injectable()
export class UpstreamPolicyCheck {
  private readonly policy: UpstreamPolicy;

  constructor(@Inject(MANAGER_CONFIG) config: ManagerConfig) {
    this.policy = new UpstreamPolicy(config.upstreamPolicy);
  }

  async require(upstreamUrl: string): Promise<void> {
    const refusal = await this.policy.checkUrl(upstreamUrl);
    if (!refusal) return;
    throw new ProblemError(422, 'upstream_forbidden', 'Upstream not allowed', refusal.detail, [{ path: 'upstreamUrl', message: refusal.detail }], { reason: refusal.reason });
  }
}
