import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CONFIG_CHANGED, createRedisClient, diffSnapshots, newPublicationEpoch, RedisBusClient, SnapshotStore, type ConfigSnapshot, type PublicationHead } from '@idm/config-bus';
import { eq, sql } from 'drizzle-orm';
import type Redis from 'ioredis';
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
  private readonly bus: RedisBusClient;
  private queue: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private closing = false;
  /** Environments published at least once since boot (takeover of another database's epoch happens only before). */
  private readonly published = new Set<string>();
  /** Environments another database took over (logged once). */
  private readonly superseded = new Set<string>();

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly database: Database,
    private readonly builder: SnapshotBuilder,
  ) {
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'idm-manager' });
    this.redis.on('error', () => undefined); // state changes are logged below; ioredis retries by itself
    this.redis.on('ready', () => void this.publish());
    this.store = new SnapshotStore(this.redis);
    this.bus = new RedisBusClient(config.redis, 500);
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

  /**
   * Removes a deleted environment's published config from Redis, after the publications queued
   * before it. Best effort: with Redis away the keys stay (a warning), as they did before.
   */
  withdraw(environment: string): Promise<void> {
    this.queue = this.queue.then(async () => {
      this.published.delete(environment);
      this.superseded.delete(environment);
      await this.store.remove(environment).catch((err: Error) => this.logger.warn(`could not remove the config of deleted environment ${environment} from Redis: ${err.message}`));
    });
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
    const head = await this.store.head(name); // throws while Redis is away: deferred and retried
    const previous = await this.store.read(name).catch((): ConfigSnapshot | null => {
      if (this.redis.status !== 'ready') throw new Error('Redis is not connected');
      return null; // unreadable (e.g. written by an older or newer Manager): replace it
    });
    // Read under the publication lock: another Manager sharing the database may have renewed it.
    const [row] = await this.database.db
      .select({ revision: environments.revision, epoch: environments.publicationEpoch })
      .from(environments)
      .where(eq(environments.id, environmentId));
    if (!row) return; // deleted meanwhile
    const epoch = await this.epochFor(environmentId, name, row, head);
    if (epoch === null) return;
    const candidate = await this.builder.build(name, epoch, 0);
    if (previous && !diffSnapshots(previous, candidate)) return;
    const [{ revision }] = await this.database.db
      .update(environments)
      .set({ revision: sql`${environments.revision} + 1` })
      .where(eq(environments.id, environmentId))
      .returning({ revision: environments.revision });
    const snapshot = { ...candidate, revision };
    if (!(await this.store.write(snapshot))) {
      this.logger.warn(`not publishing ${name} revision ${revision}: Redis already holds a newer publication`);
      return;
    }
    const message = diffSnapshots(previous, snapshot)!;
    await firstValueFrom(this.bus.emit(CONFIG_CHANGED, message).pipe(timeout(5000)), { defaultValue: undefined });
    this.logger.log(`published ${name} revision ${revision}`);
  }

  /**
   * The epoch to publish under, renewed (and stored) when this database's revisions would not
   * supersede what Redis holds: a restored backup (same epoch, Redis ahead of the database), or
   * another database's newer epoch found at this Manager's first publication of the environment
   * (a fresh `.data` or a switch of database: the Manager that starts takes over). A newer epoch
   * appearing later means another Manager took over after this one started: it is not fought
   * over on every change (null: publish nothing).
   */
  private async epochFor(environmentId: string, name: string, row: { revision: number; epoch: string | null }, head: PublicationHead | null): Promise<string | null> {
    const firstSinceBoot = !this.published.has(name);
    this.published.add(name);
    let reason: string | null = null;
    if (row.epoch === null) reason = head ? 'first publication from this database' : null;
    else if (head?.epoch === row.epoch && head.revision > row.revision) reason = `Redis holds revision ${head.revision} of this database's epoch, the database only ${row.revision} (restored from a backup?)`;
    else if (head?.epoch && head.epoch > row.epoch) {
      if (!firstSinceBoot) {
        if (!this.superseded.has(name)) this.logger.error(`environment ${name} is now published from another database (epoch ${head.epoch}); this Manager's changes stay unpublished until it restarts`);
        this.superseded.add(name);
        return null;
      }
      reason = `Redis holds a publication of epoch ${head.epoch} from another database`;
    }
    if (row.epoch !== null && reason === null) return row.epoch;
    const epoch = newPublicationEpoch(head?.epoch);
    await this.database.db.update(environments).set({ publicationEpoch: epoch }).where(eq(environments.id, environmentId));
    this.superseded.delete(name);
    if (reason) this.logger.warn(`environment ${name}: new publication epoch ${epoch}; ${reason}`);
    return epoch;
  }
}
