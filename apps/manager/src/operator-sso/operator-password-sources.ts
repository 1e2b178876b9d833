import { Injectable, Logger } from '@nestjs/common';
import { identitySourceEndpoint, SecretBox } from '@idm/domain';
import { checkerFor, SourceUnavailableError, type SourceIdentity } from '@idm/identity-sources';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';

export interface VouchedIdentity {
  source: IdentitySourceRow;
  identity: SourceIdentity;
}

/**
 * The password half of operator single sign-on: after no local account matched, the username
 * and password go to each enabled System source that lets operators in (LDAP, SQL, REST; an
 * external OpenID Provider checks no password), by name, with the Gateways' own checkers. The
 * first that verifies wins; a source that cannot answer never counts as a yes: when none verified
 * and one failed, the login is a 503 with that source's code (the operator learns the directory
 * is down, not that the password was wrong). Nothing is cached: an operator login is rare and
 * must see a password change or a removal at once.
 */
@Injectable()
export class OperatorPasswordSources {
  private readonly logger = new Logger('OperatorSso');

  constructor(
    private readonly sources: IdentitySourceRepository,
    private readonly secrets: SecretBox,
    private readonly upstreams: UpstreamPolicyCheck,
  ) {}

  async verify(username: string, password: string): Promise<VouchedIdentity | undefined> {
    let failure: SourceUnavailableError | undefined;
    for (const source of await this.passwordSources()) {
      try {
        const identity = await this.check(source, username, password);
        if (identity) return { source, identity };
      } catch (err) {
        const e = err instanceof SourceUnavailableError ? err : new SourceUnavailableError('source_unavailable', err instanceof Error ? err.message : String(err));
        this.logger.warn(`operator login: identity source ${source.name} failed: ${e.code}: ${e.message}`);
        failure ??= e;
      }
    }
    if (failure) throw new ProblemError(503, failure.code, 'The operator directory cannot be reached', `an identity source could not answer (${failure.code}); try again later`);
    return undefined;
  }

  private async passwordSources(): Promise<IdentitySourceRow[]> {
    return (await this.sources.operatorLoginSources()).filter((s) => s.type === 'ldap' || s.type === 'sql' || s.type === 'rest');
  }

  private async check(source: IdentitySourceRow, username: string, password: string): Promise<SourceIdentity | undefined> {
    const endpoint = identitySourceEndpoint(source.type, source.config);
    try {
      await this.upstreams.requireEndpoint(endpoint.host, endpoint.port, endpoint.field);
    } catch {
      throw new SourceUnavailableError('source_misconfigured', `the upstream address policy refuses ${endpoint.host}:${endpoint.port}`);
    }
    let secret: string | null;
    try {
      secret = source.secret === null ? null : this.secrets.open(source.secret);
    } catch {
      throw new SourceUnavailableError('source_misconfigured', 'the secret cannot be opened with the Manager’s master keys');
    }
    const checker = checkerFor({ ...source, secret }, this.upstreams.guard());
    try {
      const answer = await checker.check(username, password);
      return answer.outcome === 'verified' ? answer.identity : undefined;
    } finally {
      await checker.close();
    }
  }
}
