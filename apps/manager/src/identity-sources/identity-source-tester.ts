import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { identitySourceEndpoint, SecretBox, type IdentitySourceTest, type IdentitySourceTestResult } from '@idm/domain';
import { checkerFor, SourceUnavailableError, type SourceAnswer } from '@idm/identity-sources';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { Database } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { bindingsForGroups, resolveOperatorBindings } from '../repositories/operator-bindings';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceRepository } from '../repositories/identity-source.repository';

/**
 * "Test connection / test login" of a saved identity source, with the Gateways' own checker
 * (@idm/identity-sources), so what passes here is what a login does. Needs
 * `identity-source:write` at the source's scope: the test uses the sealed secret and makes the
 * Manager connect out. The server is held to the upstream address policy first (422
 * `upstream_forbidden`, as on save: the Manager is no way to reach a forbidden address), the
 * whole test is bounded by the source's timeout, and nothing is stored, so it is not audited
 * (the audit records changes; the route is `x-read-only`). The answer never carries the secret
 * nor the tested password.
 */
@Injectable()
export class IdentitySourceTester {
  constructor(
    private readonly sources: IdentitySourceRepository,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
    private readonly upstreams: UpstreamPolicyCheck,
    private readonly database: Database,
  ) {}

  async test(id: string, input: IdentitySourceTest): Promise<IdentitySourceTestResult> {
    this.permissions.checkAnywhere('identity-source:write');
    const row = await this.sources.findById(id);
    if (!row) throw ProblemError.notFound('identity_source', id);
    this.permissions.check('identity-source:write', { projectId: row.projectId });
    const endpoint = identitySourceEndpoint(row.type, row.config);
    await this.upstreams.requireEndpoint(endpoint.host, endpoint.port, endpoint.field);

    const step = input.username === undefined ? 'connection' : 'login';
    const started = Date.now();
    const result = (
      r: Omit<IdentitySourceTestResult, 'step' | 'durationMs' | 'operatorBindings'>,
      operatorBindings: IdentitySourceTestResult['operatorBindings'] = null,
    ): IdentitySourceTestResult => ({
      ...r,
      step,
      operatorBindings,
      durationMs: Date.now() - started,
    });
    let secret: string | null = null;
    try {
      secret = row.secret === null ? null : this.secrets.open(row.secret);
    } catch {
      return result({ ok: false, outcome: 'unavailable', code: 'source_misconfigured', detail: 'the secret cannot be opened with the Manager’s master keys', identity: null });
    }
    // A random username no directory holds: the source must answer, and answer no.
    const username = input.username ?? `idm-connection-test-${randomBytes(6).toString('hex')}`;
    const password = input.password ?? randomBytes(18).toString('base64url');
    const mask = (text: string) => [secret, password].reduce<string>((t, s) => (s ? t.split(s).join('***') : t), text);

    const checker = checkerFor({ ...row, secret }, this.upstreams.guard());
    let answer: SourceAnswer;
    try {
      answer = await checker.check(username, password);
    } catch (err) {
      const failure = err instanceof SourceUnavailableError ? err : new SourceUnavailableError('source_unavailable', err instanceof Error ? err.message : String(err));
      return result({ ok: false, outcome: 'unavailable', code: failure.code, detail: mask(failure.message), identity: null });
    } finally {
      await checker.close();
    }
    if (step === 'connection') {
      if (answer.outcome === 'rejected') return result({ ok: true, outcome: 'reachable', code: null, detail: null, identity: null });
      return result({
        ok: false,
        outcome: 'verified',
        code: 'source_accepts_anyone',
        detail: 'the source verified a random username and password: it would let anyone in',
        identity: null,
      });
    }
    if (answer.outcome === 'rejected') return result({ ok: false, outcome: 'rejected', code: null, detail: 'the source refused this username and password', identity: null });
    const roles = [...new Set(answer.identity.groups.flatMap((g) => row.roleMappings[g] ?? []))].sort();
    // A source that lets operators in also shows the Manager bindings this user would get (none is granted here).
    let operatorBindings: IdentitySourceTestResult['operatorBindings'] = null;
    if (row.operatorLogin?.enabled) {
      const { resolved } = await resolveOperatorBindings(this.database.db, row.operatorLogin.groupBindings);
      operatorBindings = bindingsForGroups(resolved, answer.identity.groups).map((b) => b.binding);
    }
    return result({ ok: true, outcome: 'verified', code: null, detail: null, identity: { ...answer.identity, roles } }, operatorBindings);
  }
}
