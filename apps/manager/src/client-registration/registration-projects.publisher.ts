import { CLIENT_REGISTRATION_PROJECTS_KEY, createRedisClient } from '@idm/config-bus';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Subscription } from 'rxjs';
import { ChangeWriter } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ClientRegistrationRepository } from '../repositories/client-registration.repository';

const RETRY_MS = 5_000;

/**
 * Keeps the Redis set of projects that accept dynamic registrations (what makes the Gateways'
 * discovery name a `registration_endpoint`). The database is the truth: the whole set is rewritten
 * after each committed change of a switch (or a project's deletion) and whenever Redis connects;
 * a refused write is retried a few seconds later. The list is short: one id per enabled project.
 */
@Injectable()
export class RegistrationProjectsPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ClientRegistration');
  private readonly redis: Redis;
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private changes?: Subscription;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly rows: ClientRegistrationRepository,
    private readonly writer: ChangeWriter,
  ) {
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000, connectionName: 'idm-manager-client-registration' });
    this.redis.on('error', () => undefined);
  }

  onApplicationBootstrap(): void {
    this.changes = this.writer.committed.subscribe((event) => {
      if (event.entityKind === 'client_registration_settings' || (event.entityKind === 'project' && event.action.endsWith('delete'))) this.publish();
    });
    this.redis.on('ready', () => this.publish());
    this.redis.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.changes?.unsubscribe();
    clearTimeout(this.retry);
    this.redis.disconnect();
  }

  private publish(): void {
    clearTimeout(this.retry);
    void (async () => {
      const projects = await this.rows.enabledProjects();
      const write = this.redis.multi().del(CLIENT_REGISTRATION_PROJECTS_KEY);
      if (projects.length > 0) write.sadd(CLIENT_REGISTRATION_PROJECTS_KEY, ...projects);
      await write.exec();
    })().catch((err: Error) => {
      this.logger.warn(`projects accepting client registrations not published (${err.message}); retrying`);
      if (!this.stopped) this.retry = setTimeout(() => this.publish(), RETRY_MS).unref();
    });
  }
}
