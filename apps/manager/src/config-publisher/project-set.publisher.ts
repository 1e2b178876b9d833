import { createRedisClient } from '@idm/config-bus';
import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Subscription } from 'rxjs';
import type { ChangeWriter } from '../audit/change-writer';
import type { ManagerConfig } from '../config/manager-config';

const RETRY_MS = 5_000;

/** What one Redis set of project ids holds and where it comes from. */
export interface ProjectSet {
  /** The Redis key the Gateways read. */
  key: string;
  /** The audited entity kind whose committed changes rewrite the set (a project's deletion does too). */
  entityKind: string;
  /** For the log and the Redis connection's name: "projects accepting client registrations". */
  what: string;
  connectionName: string;
  /** The ids of the projects in the set, read from the database (the truth). */
  load(): Promise<string[]>;
}

/**
 * Keeps a Redis set of project ids that the Gateways read for a per-project switch (one bit per
 * project, read off the hot path) in step with the database: the whole set is rewritten after
 * each committed change of the switch (or a project's deletion) and whenever Redis connects, and
 * a refused write is retried a few seconds later. Why not the published configuration: a snapshot
 * field would republish every credential of the environment for a switch.
 */
export abstract class ProjectSetPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger: Logger;
  private readonly redis: Redis;
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private changes?: Subscription;

  protected constructor(
    config: ManagerConfig,
    private readonly writer: ChangeWriter,
    private readonly set: ProjectSet,
  ) {
    this.logger = new Logger(set.connectionName);
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000, connectionName: set.connectionName });
    this.redis.on('error', () => undefined);
  }

  onApplicationBootstrap(): void {
    this.changes = this.writer.committed.subscribe((event) => {
      if (event.entityKind === this.set.entityKind || (event.entityKind === 'project' && event.action.endsWith('delete'))) this.publish();
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
      const projects = await this.set.load();
      const write = this.redis.multi().del(this.set.key);
      if (projects.length > 0) write.sadd(this.set.key, ...projects);
      await write.exec();
    })().catch((err: Error) => {
      this.logger.warn(`${this.set.what} not published (${err.message}); retrying`);
      if (!this.stopped) this.retry = setTimeout(() => this.publish(), RETRY_MS).unref();
    });
  }
}
