import { Injectable } from '@nestjs/common';
import type { ClientRegistrationSettings } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ClientRegistrationRepository } from '../repositories/client-registration.repository';

/** The per-project switch of dynamic client registration (project:read / project:write at the project), audited. */
@Injectable()
export class ClientRegistrationSettingsService {
  constructor(
    private readonly rows: ClientRegistrationRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async get(projectId: string): Promise<ClientRegistrationSettings> {
    this.permissions.check('project:read', { projectId });
    await requireProject(this.changes.reads(), projectId);
    return { enabled: await this.rows.enabled(projectId) };
  }

  put(projectId: string, settings: ClientRegistrationSettings): Promise<ClientRegistrationSettings> {
    this.permissions.check('project:write', { projectId });
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      const before = await this.rows.setEnabled(tx, projectId, settings.enabled);
      return {
        result: settings,
        change: { action: 'update', entityKind: 'client_registration_settings', entityId: projectId, projectId, before: { enabled: before }, after: { enabled: settings.enabled } },
      };
    });
  }
}
