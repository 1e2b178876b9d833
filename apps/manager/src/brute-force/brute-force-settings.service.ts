import { projectBruteForceSettingsSchema, type ProjectBruteForceSettings } from '@idm/domain';
import { Injectable } from '@nestjs/common';
import { ChangeWriter } from '../audit/change-writer';
import type { Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { BruteForceSettingsRepository } from '../repositories/brute-force-settings.repository';
import { ProjectRepository } from '../repositories/project.repository';

/**
 * A project's brute-force settings (project:read / project:write at the project), audited;
 * every Gateway applies a change within a second, without a restart. None: the environment's
 * detectors (the Gateway's BRUTE_FORCE_* variables) count failures against its credentials.
 */
@Injectable()
export class BruteForceSettingsService {
  constructor(
    private readonly projects: ProjectRepository,
    private readonly rows: BruteForceSettingsRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async get(projectId: string): Promise<ProjectBruteForceSettings | null> {
    this.permissions.check('project:read', { projectId });
    await this.project(projectId);
    const row = await this.rows.find(projectId);
    return row ? projectBruteForceSettingsSchema.parse(row.settings) : null;
  }

  async put(projectId: string, settings: ProjectBruteForceSettings): Promise<ProjectBruteForceSettings> {
    this.permissions.check('project:write', { projectId });
    return this.changes.write(async (tx) => {
      await this.project(projectId, tx);
      const before = await this.rows.find(projectId, tx, true);
      await this.rows.put(tx, projectId, settings);
      return {
        result: settings,
        change: { action: before ? 'update' : 'create', entityKind: 'brute_force_settings', entityId: projectId, projectId, before: before?.settings ?? null, after: settings },
      };
    });
  }

  async remove(projectId: string): Promise<void> {
    this.permissions.check('project:write', { projectId });
    await this.changes.write(async (tx) => {
      await this.project(projectId, tx);
      const before = await this.rows.delete(tx, projectId);
      if (!before) throw ProblemError.notFound('brute_force_settings', projectId);
      return { result: undefined, change: { action: 'delete', entityKind: 'brute_force_settings', entityId: projectId, projectId, before: before.settings, after: null } };
    });
  }

  private async project(projectId: string, db?: Reads): Promise<void> {
    if (!(await this.projects.findById(projectId, db))) throw ProblemError.notFound('project', projectId);
  }
}
