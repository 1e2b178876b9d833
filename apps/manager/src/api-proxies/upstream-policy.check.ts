import { isIP } from 'node:net';
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

  /** `path`: the field holding the URL (a proxy's upstreamUrl, a key manager's jwksUri, ...). */
  async require(upstreamUrl: string, path = 'upstreamUrl'): Promise<void> {
    const refusal = await this.policy.checkUrl(upstreamUrl);
    if (!refusal) return;
    throw new ProblemError(422, 'upstream_forbidden', 'Upstream not allowed', refusal.detail, [{ path, message: refusal.detail }], { reason: refusal.reason });
  }

  /** The policy as an identity source's checker asks it about a server it finds on its own (an LDAP referral): why not, or null. */
  guard(): (host: string, port: number) => Promise<string | null> {
    return (host, port) =>
      this.requireEndpoint(host, port, 'referral').then(
        () => null,
        (err: unknown) => (err instanceof Error ? err.message : 'refused'),
      );
  }

  /** A host and port that is not an http(s) URL (an identity source's LDAP or SQL server), held to the same policy. */
  requireEndpoint(host: string, port: number, path: string): Promise<void> {
    return this.require(`http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`, path);
  }
}
