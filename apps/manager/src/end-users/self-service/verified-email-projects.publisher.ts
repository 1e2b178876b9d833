import { createRedisClient, VERIFIED_EMAIL_PROJECTS_KEY } from '@idm/config-bus';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Subscription } from 'rxjs';
import { ChangeWriter } from '../../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../../config/manager-config';
import { EndUserRegistrationRepository } from '../../repositories/end-user-registration.repository';

const RETRY_MS = 5_000;

/**
 * Keeps the Redis set of projects whose end users must have a verified email to sign in (what
 * the Gateways' login page and password grants read for a user whose email is not verified).
 * Like the set of projects accepting client registrations: the database is the truth, the whole
 * set is rewritten after each committed change of a project's settings (or its deletion) and
 * whenever Redis connects, and a refused write is retried a few seconds later. Why not the
 * published configuration: one bit per project, read only for unverified users, and a snapshot
 * field would republish every credential of the environment for a switch.
 */
@Injectable()
export class VerifiedEmailProjectsPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('EndUserSelfService');
  private readonly redis: Redis;
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private changes?: Subscription;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly rows: EndUserRegistrationRepository,
    private readonly writer: ChangeWriter,
  ) {
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000, connectionName: 'idm-manager-verified-email' });
    this.redis.on('error', () => undefined);
  }

  onApplicationBootstrap(): void {
    this.changes = this.writer.committed.subscribe((event) => {
      if (event.entityKind === 'end_user_registration' || (event.entityKind === 'project' && event.action.endsWith('delete'))) this.publish();
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
      const projects = await this.rows.projectsRequiringVerifiedEmail();
      const write = this.redis.multi().del(VERIFIED_EMAIL_PROJECTS_KEY);
      if (projects.length > 0) write.sadd(VERIFIED_EMAIL_PROJECTS_KEY, ...projects);
      await write.exec();
    })().catch((err: Error) => {
      this.logger.warn(`projects requiring a verified email not published (${err.message}); retrying`);
      if (!this.stopped) this.retry = setTimeout(() => this.publish(), RETRY_MS).unref();
    });
  }
}
