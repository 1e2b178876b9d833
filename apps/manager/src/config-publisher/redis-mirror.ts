import { createRedisClient } from '@idm/config-bus';
import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Subscription } from 'rxjs';
import type { AuditEvent, ChangeWriter } from '../audit/change-writer';
import type { ManagerConfig } from '../config/manager-config';

const RETRY_MS = 5_000;

/**
 * Something the Gateways read from Redis, kept in step with the database (the truth) by the
 * Manager: after each committed change that touches it (`changed`), and rewritten whole
 * (`replaceAll`) whenever Redis connects (boot, and after Redis came back, perhaps empty). A write
 * Redis refused is followed by a whole rewrite a few seconds later, so an admin's change is never
 * refused (nor held) for the edge's sake.
 */
export abstract class RedisMirror implements OnApplicationBootstrap, OnApplicationShutdown {
  protected readonly redis: Redis;
  private readonly logger: Logger;
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private changes?: Subscription;

  protected constructor(
    config: ManagerConfig,
    private readonly writer: ChangeWriter,
    /** Names the Redis connection and the log: "idm-manager-brute-force-settings". */
    connectionName: string,
    /** For the log: "brute-force settings". */
    private readonly what: string,
  ) {
    this.logger = new Logger(connectionName);
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000, connectionName });
    this.redis.on('error', () => undefined);
  }

  /** After a committed change; rejects when Redis refused the write (a whole rewrite is then scheduled). */
  protected abstract changed(event: AuditEvent): Promise<void> | undefined;

  /** Rewrites everything the Gateways read from the database. */
  protected abstract replaceAll(): Promise<void>;

  onApplicationBootstrap(): void {
    this.changes = this.writer.committed.subscribe((event) => void this.changed(event)?.catch((err: Error) => this.failed(err)));
    this.redis.on('ready', () => this.republishAll());
    this.redis.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.changes?.unsubscribe();
    clearTimeout(this.retry);
    this.redis.disconnect();
  }

  /** Never rejects: a failure is logged and retried. */
  protected republishAll(): void {
    clearTimeout(this.retry);
    this.replaceAll().catch((err: Error) => this.failed(err));
  }

  private failed(err: Error): void {
    this.logger.warn(`${this.what} not published (${err.message}); retrying`);
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.republishAll(), RETRY_MS).unref();
  }
}
