import { createRedisClient, ProjectBruteForceSettingsStore } from '@idm/config-bus';
import { projectBruteForceSettingsSchema, type ProjectBruteForceSettings } from '@idm/domain';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Subscription } from 'rxjs';
import { ChangeWriter } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { BruteForceSettingsRepository } from '../repositories/brute-force-settings.repository';

const RETRY_MS = 5_000;

/**
 * Puts the projects' brute-force settings where every Gateway reads them. The database is the
 * truth: after each committed change (an admin's, or an APIops bundle's once its batch commits;
 * a project's deletion too) the project's row is written (and announced), and on every
 * connection to Redis (boot, and after Redis came back, perhaps empty) all rows replace what
 * Redis holds. A write Redis refused is followed by a full rewrite a few seconds later, so an
 * admin's change is never refused (nor held) for the edge's sake.
 */
@Injectable()
export class BruteForceSettingsPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('BruteForceSettings');
  private readonly redis: Redis;
  private readonly store: ProjectBruteForceSettingsStore;
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private changes?: Subscription;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly rows: BruteForceSettingsRepository,
    private readonly writer: ChangeWriter,
  ) {
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000, connectionName: 'idm-manager-brute-force-settings' });
    this.redis.on('error', () => undefined);
    this.store = new ProjectBruteForceSettingsStore(this.redis);
  }

  onApplicationBootstrap(): void {
    this.changes = this.writer.committed.subscribe((event) => {
      const ofSettings = event.entityKind === 'brute_force_settings' || (event.entityKind === 'project' && event.action === 'project.delete');
      if (ofSettings && event.projectId) void this.published(event.projectId);
    });
    this.redis.on('ready', () => this.republishAll());
    this.redis.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.changes?.unsubscribe();
    clearTimeout(this.retry);
    this.redis.disconnect();
  }

  /** After a committed change of one project (the row as it is now: a later change wins). Never rejects. */
  private async published(projectId: string): Promise<void> {
    try {
      const row = await this.rows.find(projectId);
      await this.store.put(projectId, row ? projectBruteForceSettingsSchema.parse(row.settings) : null);
    } catch (err) {
      this.logger.warn(`brute-force settings of project ${projectId} not published yet (${(err as Error).message}); retrying`);
      this.scheduleRetry();
    }
  }

  republishAll(): void {
    clearTimeout(this.retry);
    void (async () => {
      const all = new Map<string, ProjectBruteForceSettings>();
      for (const row of await this.rows.all()) all.set(row.projectId, projectBruteForceSettingsSchema.parse(row.settings));
      await this.store.replaceAll(all);
    })().catch((err: Error) => {
      this.logger.warn(`brute-force settings not published (${err.message}); retrying`);
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.republishAll(), RETRY_MS).unref();
  }
}
