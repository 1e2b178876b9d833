import { ProjectBruteForceSettingsStore } from '@idm/config-bus';
import { projectBruteForceSettingsSchema, type ProjectBruteForceSettings } from '@idm/domain';
import { Inject, Injectable } from '@nestjs/common';
import { ChangeWriter, type AuditEvent } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { RedisMirror } from '../config-publisher/redis-mirror';
import { BruteForceSettingsRepository } from '../repositories/brute-force-settings.repository';

/**
 * Puts the projects' brute-force settings where every Gateway reads them. After each committed
 * change (an admin's, or an APIops bundle's once its batch commits; a project's deletion too)
 * the project's row is written (and announced); on every connection to Redis all rows replace
 * what Redis holds (RedisMirror).
 */
@Injectable()
export class BruteForceSettingsPublisher extends RedisMirror {
  private readonly store: ProjectBruteForceSettingsStore;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly rows: BruteForceSettingsRepository,
    writer: ChangeWriter,
  ) {
    super(config, writer, 'idm-manager-brute-force-settings', 'brute-force settings');
    this.store = new ProjectBruteForceSettingsStore(this.redis);
  }

  /** The project's row as it is now (a later change wins). */
  protected changed(event: AuditEvent): Promise<void> | undefined {
    const ofSettings = event.entityKind === 'brute_force_settings' || (event.entityKind === 'project' && event.action === 'project.delete');
    if (!ofSettings || !event.projectId) return undefined;
    const projectId = event.projectId;
    return this.rows.find(projectId).then((row) => this.store.put(projectId, row ? projectBruteForceSettingsSchema.parse(row.settings) : null));
  }

  protected async replaceAll(): Promise<void> {
    const all = new Map<string, ProjectBruteForceSettings>();
    for (const row of await this.rows.all()) all.set(row.projectId, projectBruteForceSettingsSchema.parse(row.settings));
    await this.store.replaceAll(all);
  }
}
