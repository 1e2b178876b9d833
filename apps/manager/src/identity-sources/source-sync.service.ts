import { Injectable } from '@nestjs/common';
import type { IdentitySourceSyncReport } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceRepository } from '../repositories/identity-source.repository';
import { SyncUnavailableError } from './source-sync';
import { IdentitySourceSyncScheduler, SyncBusyError } from './source-sync.scheduler';

/**
 * "Sync now" (`POST /identity-sources/{id}/sync`): the source's sync at once, with
 * `identity-source:write` at its scope, for a source with sync settings (enabled or not: the
 * switch governs the schedule). Audited as the operator's `identity_source.sync` with what it
 * checked and disabled; each disabling is its own audit row by `identity-source-sync:<source>`.
 */
@Injectable()
export class IdentitySourceSyncService {
  constructor(
    private readonly sources: IdentitySourceRepository,
    private readonly permissions: PermissionService,
    private readonly scheduler: IdentitySourceSyncScheduler,
    private readonly changes: ChangeWriter,
  ) {}

  async syncNow(id: string): Promise<IdentitySourceSyncReport> {
    this.permissions.checkAnywhere('identity-source:write');
    const source = await this.sources.findById(id);
    if (!source) throw ProblemError.notFound('identity_source', id);
    this.permissions.check('identity-source:write', { projectId: source.projectId });
    if (source.sync === null)
      throw new ProblemError(409, 'sync_not_configured', 'The identity source has no sync settings', `set sync on '${source.name}' first (an LDAP search-bind or SQL source)`);
    let report: IdentitySourceSyncReport;
    try {
      report = await this.scheduler.runLocked(source, source.sync);
    } catch (err) {
      if (err instanceof SyncBusyError) throw new ProblemError(409, 'sync_in_progress', 'A sync of this source is running', 'wait for it to end and try again');
      if (err instanceof SyncUnavailableError) {
        if (err.code === 'upstream_forbidden') throw new ProblemError(422, 'upstream_forbidden', 'The source’s address is not allowed', err.message);
        if (err.code === 'sync_guard_tripped') throw new ProblemError(409, 'sync_guard_tripped', 'Too many users would be disabled', `nobody was disabled: ${err.message}`);
        throw new ProblemError(503, err.code, 'The identity source cannot be asked now', `nobody was disabled: ${err.message}`, undefined, undefined, { 'retry-after': '60' });
      }
      throw err;
    }
    const summary = {
      checkedEndUsers: report.checked.endUsers,
      checkedOperators: report.checked.operators,
      disabledEndUsers: report.disabled.endUsers.length,
      disabledOperators: report.disabled.operators.length,
    };
    await this.changes.write(async () => ({
      result: undefined,
      change: { action: 'sync', entityKind: 'identity_source', entityId: source.id, projectId: source.projectId, before: null, after: summary },
    }));
    return report;
  }
}
