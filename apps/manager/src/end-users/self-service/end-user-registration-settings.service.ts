import { endUserRegistrationSettingsSchema, type EndUserRegistrationSettings } from '@idm/domain';
import { Injectable } from '@nestjs/common';
import { ChangeWriter } from '../../audit/change-writer';
import type { Reads } from '../../database/database';
import { PermissionService } from '../../governance/permission.service';
import { ProblemError } from '../../problems/problem.error';
import { EndUserRegistrationRepository } from '../../repositories/end-user-registration.repository';
import { ProjectRepository } from '../../repositories/project.repository';

const OFF: EndUserRegistrationSettings = { selfRegistration: false, requireVerifiedEmail: false };

/** A project's self-registration and verified-email switches (project:read / project:write at the project), audited as `end_user_registration.*`. */
@Injectable()
export class EndUserRegistrationSettingsService {
  constructor(
    private readonly projects: ProjectRepository,
    private readonly rows: EndUserRegistrationRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async get(projectId: string): Promise<EndUserRegistrationSettings> {
    this.permissions.check('project:read', { projectId });
    await this.project(projectId);
    const row = await this.rows.find(projectId);
    return row ? endUserRegistrationSettingsSchema.parse(row.settings) : OFF;
  }

  async put(projectId: string, settings: EndUserRegistrationSettings): Promise<EndUserRegistrationSettings> {
    this.permissions.check('project:write', { projectId });
    return this.changes.write(async (tx) => {
      await this.project(projectId, tx);
      const before = await this.rows.find(projectId, tx, true);
      await this.rows.put(tx, projectId, settings);
      return {
        result: settings,
        change: { action: before ? 'update' : 'create', entityKind: 'end_user_registration', entityId: projectId, projectId, before: before?.settings ?? null, after: settings },
      };
    });
  }

  private async project(projectId: string, db?: Reads): Promise<void> {
    if (!(await this.projects.findById(projectId, db))) throw ProblemError.notFound('project', projectId);
  }
}
