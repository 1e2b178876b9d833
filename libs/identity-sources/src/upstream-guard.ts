import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { identitySourceEndpoint, type IdentitySourceDefinition, type UpstreamPolicy } from '@idm/domain';
import { SourceUnavailableError, withinTimeout, type IdentityChecker, type SourceAnswer } from './identity-check';

/** Why the policy refuses the host (null: every address it resolves to is allowed). */
export type EndpointGuard = (host: string, port: number) => Promise<string | null>;

/** The upstream address policy (UPSTREAM_ALLOW / UPSTREAM_DENY / own endpoints) over every address the host resolves to now. */
export function upstreamGuard(policy: UpstreamPolicy): EndpointGuard {
  return async (host, port) => {
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = (await lookup(host, { all: true })).map((a) => a.address);
      } catch {
        // A name that does not resolve is the connection's failure to report (source_unavailable), not the policy's.
        return null;
      }
    }
    for (const address of addresses) {
      const refusal = await policy.check(host, address, port);
      if (refusal) return refusal.detail;
    }
    return null;
  };
}

/**
 * A source held to the upstream policy before each check, as proxies' upstreams and key managers'
 * endpoints are: an LDAP or SQL server on a loopback, link-local or metadata address, in
 * UPSTREAM_DENY or on one of the installation's own endpoints is never connected to; the check
 * fails as `source_misconfigured` (the Manager refuses such a source on save, 422 upstream_forbidden;
 * this catches a name that resolves elsewhere later). The policy is asked again at every check,
 * before the driver resolves the name itself: a name re-pointed between the two is the remaining gap.
 */
export class GuardedChecker implements IdentityChecker {
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly inner: IdentityChecker,
    definition: IdentitySourceDefinition,
    private readonly guard: EndpointGuard,
  ) {
    ({ host: this.host, port: this.port } = identitySourceEndpoint(definition.type, definition.config));
    this.timeoutMs = definition.timeoutMs;
  }

  async check(username: string, password: string): Promise<SourceAnswer> {
    const refusal = await withinTimeout('the upstream policy check', this.timeoutMs, this.guard(this.host, this.port));
    if (refusal !== null) throw new SourceUnavailableError('source_misconfigured', `the upstream policy refuses the source's server: ${refusal}`);
    return this.inner.check(username, password);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
