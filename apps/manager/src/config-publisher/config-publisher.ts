import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { CONFIG_CHANGED, diffSnapshots, SnapshotStore } from '@idm/config-bus';
import { eq, sql } from 'drizzle-orm';
import Redis from 'ioredis';
import { firstValueFrom, timeout } from 'rxjs';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { Database } from '../database/database';
import { environments } from '../database/schema';
import { SnapshotBuilder } from './snapshot.builder';

const RETRY_DELAY_MS = 2000;
/** First key of the publication advisory locks ("idmp"); the second is the environment's name hash. */
export const PUBLICATION_LOCK_NAMESPACE = 0x69646d70;

/**
 * After each committed change: rebuild every environment's snapshot, and where it differs from
 * the one in Redis, bump the environment's revision, store the snapshot and publish the delta
 * as `config.changed`. Runs one publication at a time so revisions go out in order, and on a
 * PostgreSQL server each environment's publication holds an advisory lock, so Managers sharing
 * the database publish one after another (each building from what the previous one committed,
 * never a stale snapshot under a newer revision). If Redis is unreachable the change stays
 * committed and is published when Redis answers again.
 */
@Injectable()
export class ConfigPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ConfigPublisher');
  private readonly redis: Redis;
  private readonly store: SnapshotStore;
  private readonly bus: ClientProxy;
  private queue: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private closing = false;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly database: Database,
    private readonly builder: SnapshotBuilder,
  ) {
    this.redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'idm-manager' });
    this.redis.on('error', () => undefined); // state changes are logged below; ioredis retries by itself
    this.redis.on('ready', () => void this.publish());
    this.store = new SnapshotStore(this.redis);
    const url = new URL(config.REDIS_URL);
    this.bus = ClientProxyFactory.create({
      transport: Transport.REDIS,
      options: {
        host: url.hostname,
        port: Number(url.port || 6379),
        password: url.password || undefined,
        tls: url.protocol === 'rediss:' ? {} : undefined,
        // Nest's Redis client does not reconnect at all unless told to; a Manager must outlive Redis restarts.
        retryAttempts: Number.MAX_SAFE_INTEGER,
        retryDelay: 500,
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.redis.connect().catch((err: Error) => this.logger.warn(`Redis not reachable yet (${err.message}); will publish when it is`));
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    await this.queue;
    this.redis.disconnect();
    await this.bus.close();
  }

  isRedisReady(): boolean {
    return this.redis.status === 'ready';
  }

  /** Publishes every environment whose snapshot changed; resolves when done (never rejects). */
  publish(): Promise<void> {
    this.queue = this.queue.then(() => this.publishAll());
    return this.queue;
  }

  private async publishAll(): Promise<void> {
    if (this.closing) return;
    try {
      const envs = await this.database.db.select({ id: environments.id, name: environments.name }).from(environments);
      for (const env of envs) await this.publishEnvironment(env.id, env.name);
    } catch (err) {
      this.logger.warn(`config publication deferred: ${(err as Error).message}`);
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        void this.publish();
      }, RETRY_DELAY_MS);
    }
  }

  private async publishEnvironment(environmentId: string, name: string): Promise<void> {
    // PGlite is one process's private database (and one connection): nobody to serialize with.
    if (this.database.kind !== 'postgres') return this.publishLocked(environmentId, name);
    await this.database.transaction(async (tx) => {
      // Held until this transaction ends; the work itself runs on other pooled connections.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${PUBLICATION_LOCK_NAMESPACE}, hashtext(${name}))`);
      await this.publishLocked(environmentId, name);
    });
  }

  private async publishLocked(environmentId: string, name: string): Promise<void> {
    const previous = await this.store.read(name).catch(() => {
      if (this.redis.status !== 'ready') throw new Error('Redis is not connected');
      return null; // unreadable (e.g. written by a newer Manager): replace it
    });
    const candidate = await this.builder.build(name, 0);
    if (previous && !diffSnapshots(previous, candidate)) return;
    const [{ revision }] = await this.database.db
      .update(environments)
      .set({ revision: sql`${environments.revision} + 1` })
      .where(eq(environments.id, environmentId))
      .returning({ revision: environments.revision });
    const snapshot = { ...candidate, revision };
    const message = diffSnapshots(previous, snapshot)!;
    await this.store.write(snapshot);
    await firstValueFrom(this.bus.emit(CONFIG_CHANGED, message).pipe(timeout(5000)), { defaultValue: undefined });
    this.logger.log(`published ${name} revision ${revision}`);
  }
}
