import { Injectable, Logger } from '@nestjs/common';
import { identitySourceEndpoint, SecretBox, type IdentitySourceSync, type IdentitySourceSyncReport } from '@idm/domain';
import { directoryLookupFor, SourceUnavailableError, type DirectoryLookup } from '@idm/identity-sources';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { ChangeWriter } from '../audit/change-writer';
import { Database } from '../database/database';
import { ActorContext, systemActor } from '../governance/actor.context';
import { CredentialRepository, type CredentialRow } from '../repositories/credential.repository';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';
import { OperatorRepository } from '../repositories/operator.repository';
import { RoleBindingRepository } from '../repositories/role-binding.repository';

/** How many users are asked about per read of the database (and per directory connection). */
const PAGE = 200;
const auditRow = ({ digestHa1: _, ...c }: CredentialRow) => c;
type Gone = { id: string; username: string };
type GoneOperator = Awaited<ReturnType<OperatorRepository['ofSource']>>[number];

/** The source cannot be asked now (down, slow, misconfigured, its address forbidden): nobody is concluded gone. */
export class SyncUnavailableError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One sync of an identity source (removal from the directory disables): asks the directory about
 * every enabled end user and every operator the source provisioned, and
 *  - disables each end user it no longer knows (as an operator's disabling would: published, so
 *    every Gateway refuses its logins, refresh tokens and SSO sessions);
 *  - signs out each operator it no longer knows and drops the role bindings its groups gave
 *    (bindings through Manager groups are the admins' and stay; it cannot log in again anyway,
 *    the directory refusing it).
 * Each is audited as the system actor `identity-source-sync:<source>`. Nothing is ever re-enabled:
 * a user back in the directory stays disabled until an operator enables it. A directory that
 * cannot answer for every user ends the run with nothing concluded from it.
 */
@Injectable()
export class IdentitySourceSyncRun {
  private readonly logger = new Logger('IdentitySourceSync');

  constructor(
    private readonly sources: IdentitySourceRepository,
    private readonly credentials: CredentialRepository,
    private readonly operators: OperatorRepository,
    private readonly bindings: RoleBindingRepository,
    private readonly changes: ChangeWriter,
    private readonly database: Database,
    private readonly secrets: SecretBox,
    private readonly upstreams: UpstreamPolicyCheck,
  ) {}

  async run(source: IdentitySourceRow, sync: IdentitySourceSync): Promise<IdentitySourceSyncReport> {
    const started = Date.now();
    const endpoint = identitySourceEndpoint(source.type, source.config);
    try {
      await this.upstreams.requireEndpoint(endpoint.host, endpoint.port, endpoint.field);
    } catch {
      throw new SyncUnavailableError('upstream_forbidden', `${endpoint.host}:${endpoint.port} is not an allowed upstream address`);
    }
    let secret: string | null;
    try {
      secret = source.secret === null ? null : this.secrets.open(source.secret);
    } catch {
      throw new SyncUnavailableError('source_misconfigured', 'the secret cannot be opened with the Manager’s master keys');
    }
    const lookup = directoryLookupFor({ ...source, secret }, sync);
    const report: IdentitySourceSyncReport = { sourceId: source.id, checked: { endUsers: 0, operators: 0 }, disabled: { endUsers: [], operators: [] }, durationMs: 0 };
    let goneEndUsers: Gone[];
    let goneOperators: GoneOperator[];
    try {
      // Everyone is asked about before anyone is disabled, so the guard below sees the whole run.
      goneEndUsers = await this.goneEndUsers(source, lookup, report);
      goneOperators = await this.goneOperators(source, lookup, report);
    } finally {
      await lookup.close();
    }
    const wouldDisable = goneEndUsers.length + goneOperators.length;
    if (wouldDisable > sync.maxDisabledPerRun)
      // A lookup query or base DN that matches nobody would otherwise disable every user at once.
      throw new SyncUnavailableError(
        'sync_guard_tripped',
        `${wouldDisable} users are no longer found, more than maxDisabledPerRun (${sync.maxDisabledPerRun}); check the source's lookup, or raise the limit if they really left`,
      );
    await ActorContext.run(systemActor(`identity-source-sync:${source.name}`), async () => {
      await this.disableEndUsers(source, goneEndUsers, report);
      await this.signOutOperators(source, goneOperators, report);
    });
    report.durationMs = Date.now() - started;
    const disabled = report.disabled.endUsers.length + report.disabled.operators.length;
    if (disabled > 0)
      this.logger.log(
        `identity source ${source.name}: ${report.disabled.endUsers.length} end user(s) disabled, ${report.disabled.operators.length} operator(s) signed out (gone from the directory)`,
      );
    return report;
  }

  private async goneEndUsers(source: IdentitySourceRow, lookup: DirectoryLookup, report: IdentitySourceSyncReport): Promise<Gone[]> {
    const found: Gone[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await this.credentials.enabledEndUsersOfSourcePage(this.database.db, source.id, after, PAGE);
      if (page.length === 0) return found;
      after = page[page.length - 1]!.id;
      report.checked.endUsers += page.length;
      const gone = new Set(
        await this.ask(
          lookup,
          page.map((u) => u.username),
        ),
      );
      found.push(...page.filter((u) => gone.has(u.username)).map((u) => ({ id: u.id, username: u.username })));
      if (page.length < PAGE) return found;
    }
  }

  private async disableEndUsers(source: IdentitySourceRow, gone: Gone[], report: IdentitySourceSyncReport): Promise<void> {
    for (const user of gone) {
      const disabled = await this.changes.write(async (tx) => {
        const row = await this.credentials.enabledEndUserOfSource(tx, user.id, source.id);
        if (!row) return { result: false, change: null }; // disabled, moved or deleted meanwhile
        const updated = await this.credentials.update(tx, row.id, { enabled: false, updatedAt: new Date() });
        return {
          result: true,
          change: { action: 'update', entityKind: 'end_user', entityId: row.id, projectId: row.projectId, teamId: row.teamId, before: auditRow(row), after: auditRow(updated) },
        };
      });
      if (disabled) report.disabled.endUsers.push({ id: user.id, username: user.username });
    }
  }

  private async goneOperators(source: IdentitySourceRow, lookup: DirectoryLookup, report: IdentitySourceSyncReport): Promise<GoneOperator[]> {
    const operators = (await this.operators.ofSource(this.database.db, source.id)).filter((o) => o.subject !== null);
    report.checked.operators = operators.length;
    const found: GoneOperator[] = [];
    for (let i = 0; i < operators.length; i += PAGE) {
      const page = operators.slice(i, i + PAGE);
      const gone = new Set(
        await this.ask(
          lookup,
          page.map((o) => o.subject!),
        ),
      );
      found.push(...page.filter((o) => gone.has(o.subject!)));
    }
    // Operators have no enabled flag: one signed out by an earlier run, with nothing bound, has nothing left to lose.
    const holding = await this.operators.holdingAccess(
      this.database.db,
      found.map((o) => o.id),
    );
    return found.filter((o) => holding.has(o.id));
  }

  private async signOutOperators(source: IdentitySourceRow, gone: GoneOperator[], report: IdentitySourceSyncReport): Promise<void> {
    for (const operator of gone) {
      const signedOut = await this.changes.write(async (tx) => {
        const bindings = await this.bindings.ofUser(tx, operator.id);
        const sessions = await this.operators.closeSessionsOf(tx, operator.id);
        // Already signed out with nothing bound: a previous run did it, nothing to record.
        if (bindings.length === 0 && sessions === 0) return { result: false, change: null };
        await this.bindings.deleteByIds(
          tx,
          bindings.map((b) => b.id),
        );
        const key = (b: { roleId: string; scopeType: string; scopeId: string | null }) => `${b.roleId}|${b.scopeType}|${b.scopeId ?? ''}`;
        const view = (list: string[], sessionCount: number) => ({
          id: operator.id,
          username: operator.username,
          sourceId: source.id,
          subject: operator.subject,
          bindings: list,
          sessions: sessionCount,
        });
        return {
          result: true,
          change: { action: 'update', entityKind: 'user', entityId: operator.id, projectId: null, before: view(bindings.map(key).sort(), sessions), after: view([], 0) },
        };
      });
      if (signedOut) report.disabled.operators.push({ id: operator.id, username: operator.username });
    }
  }

  private async ask(lookup: DirectoryLookup, usernames: string[]): Promise<string[]> {
    try {
      return await lookup.missing(usernames);
    } catch (err) {
      const failure = err instanceof SourceUnavailableError ? err : new SourceUnavailableError('source_unavailable', err instanceof Error ? err.message : String(err));
      throw new SyncUnavailableError(failure.code, failure.message);
    }
  }
}
