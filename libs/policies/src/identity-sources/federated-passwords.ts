import type { Identity, PolicyRejection, RequestContext } from '../policy';
import { PolicyConfigError } from '../policy-config.error';
import type { PolicyCompileDeps } from '../compile-dependencies';
import { establishWithoutCredential } from '../authentication/establish';
import type { CredentialSource } from '../authentication/presented';

export type SourceFailureCode = 'source_unavailable' | 'source_timeout' | 'source_misconfigured';

/** What the Gateway's identity sources answer (apps/gateway/src/identity-sources/). */
export type FederatedLogin =
  | { outcome: 'verified'; source: string; identity: { username: string }; roles: string[] }
  | { outcome: 'rejected' }
  | { outcome: 'unavailable'; code: SourceFailureCode; source: string };

/** The environment's identity sources (LDAP, SQL), by name. */
export interface FederatedPasswordSources {
  /** The source's project (null: System), or undefined when no such source is published. */
  scopeOf(name: string): string | null | undefined;
  /** Asks the named sources in order until one verifies the password. */
  login(names: readonly string[], username: string, password: string): Promise<FederatedLogin>;
}

const SOURCE_FAILURES: Readonly<Record<SourceFailureCode, string>> = {
  source_unavailable: 'An identity source cannot be reached',
  source_timeout: 'An identity source did not answer in time',
  source_misconfigured: 'An identity source is misconfigured',
};

/**
 * The identity sources a password policy (basic-auth) names, checked once at compile time: each
 * must be published and be System-wide or of the proxy's project (the Manager refuses anything
 * else on save; a Gateway compiling a stale chain fails closed the same way).
 */
export class FederatedPasswords {
  private readonly failures: Readonly<Record<SourceFailureCode, PolicyRejection>>;

  constructor(
    private readonly names: readonly string[],
    private readonly deps: PolicyCompileDeps,
    private readonly path: string[],
  ) {
    const sources = deps.identitySources;
    if (!sources) throw new PolicyConfigError([{ path, message: 'this gateway has no identity sources' }]);
    for (const name of names) {
      const scope = sources.scopeOf(name);
      if (scope === undefined) throw new PolicyConfigError([{ path, message: `no identity source ${name}` }]);
      if (scope !== null && scope !== deps.proxy.projectId) throw new PolicyConfigError([{ path, message: `identity source ${name} belongs to another project` }]);
    }
    this.failures = Object.freeze(
      Object.fromEntries(Object.entries(SOURCE_FAILURES).map(([code, message]) => [code, Object.freeze({ status: 503, code: code as SourceFailureCode, message })])) as Record<
        SourceFailureCode,
        PolicyRejection
      >,
    );
  }

  /**
   * Authenticates the request as the directory's user when a source verifies the password: the
   * identity is `<source>:<username>` of the proxy's project, no credential rules apply, and the
   * roles mapped from the user's groups go upstream. Rejected: null (the caller answers
   * invalid_credentials). A source that could not answer: its 503, never "allow".
   */
  async authenticate(ctx: RequestContext, username: string, password: string, strip: CredentialSource | null): Promise<PolicyRejection | 'rejected' | undefined> {
    const login = await this.deps.identitySources!.login(this.names, username, password);
    if (login.outcome === 'rejected') return 'rejected';
    if (login.outcome === 'unavailable') return this.failures[login.code];
    const identity: Identity = { credentialId: `${login.source}:${login.identity.username}`, username: login.identity.username, projectId: this.deps.proxy.projectId };
    if (login.roles.length > 0) ctx.upstreamHeaders['x-authenticated-userroles'] = login.roles.join(',');
    return establishWithoutCredential(ctx, identity, strip);
  }
}
