import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CONFIG_CHANGED, createRedisClient, EnvironmentConfigStore, newPublicationEpoch, RedisBusClient, type ConfigChangedMessage, type ConfigHead } from '@idm/config-bus';
import { eq, sql } from 'drizzle-orm';
import type Redis from 'ioredis';
import { firstValueFrom, timeout } from 'rxjs';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { Database } from '../database/database';
import { environments } from '../database/schema';
import { EnvironmentChanges, isEmptyDelta, type EnvironmentRef } from './environment-changes';
import { EnvironmentEntities } from './environment-entities';
import { mergeTouched, touchesNothing, touchEverything, type Touched } from './touched';

const RETRY_DELAY_MS = 2000;
/** First key of the publication advisory locks ("idmp"); the second is the environment's name hash. */
export const PUBLICATION_LOCK_NAMESPACE = 0x69646d70;

/**
 * After each committed change: publish what it changed, and nothing else. The change's records
 * name the entities it touched (`touchedBy`); for each environment the publisher reads just those
 * rows, compares them with what Redis holds, and where something a Gateway sees differs: bumps the
 * environment's revision, applies the delta atomically on top of the stored revision
 * (`EnvironmentConfigStore.apply`: entities + change log) and emits it as `config.changed`. A
 * change no Gateway sees (an operator, a role) publishes nothing and bumps no revision.
 *
 * Runs one publication at a time so revisions go out in order, and on a PostgreSQL server each
 * environment's publication holds an advisory lock, so Managers sharing the database publish one
 * after another, each computing from what the previous one stored. At boot, when Redis comes back
 * and after changes of unknown reach, environments are reconciled page by page; an environment
 * Redis does not hold (or holds under another epoch) is replaced whole, in chunks. If Redis is
 * unreachable the change stays committed; what it touched is kept and published when Redis answers.
 */
@Injectable()
export class ConfigPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ConfigPublisher');
  private readonly redis: Redis;
  private readonly store: EnvironmentConfigStore;
  private readonly bus: RedisBusClient;
  private queue: Promise<void> = Promise.resolve();
  /** Touched since the last publication started; merged into until it runs. */
  private pending: Touched | null = null;
  private retryTimer?: NodeJS.Timeout;
  private closing = false;
  /** Environments published at least once since boot (takeover of another database's epoch happens only before). */
  private readonly published = new Set<string>();
  /** Environments another database took over (logged once). */
  private readonly superseded = new Set<string>();

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly database: Database,
    private readonly entities: EnvironmentEntities,
  ) {
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'idm-manager' });
    this.redis.on('error', () => undefined); // state changes are logged below; ioredis retries by itself
    // Redis may have restarted empty: reconcile (cheap where it still holds everything).
    this.redis.on('ready', () => void this.publish(touchEverything()));
    this.store = new EnvironmentConfigStore(this.redis);
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

  /** Publishes what `touched` changed (default: reconcile everything); resolves when done (never rejects). */
  publish(touched: Touched = touchEverything()): Promise<void> {
    if (touchesNothing(touched)) return this.queue;
    this.pending = this.pending ? mergeTouched(this.pending, touched) : touched;
    this.queue = this.queue.then(() => this.publishPending());
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

  private async publishPending(): Promise<void> {
    const touched = this.pending;
    this.pending = null;
    if (this.closing || touched === null) return;
    try {
      const envs = await this.database.db.select({ id: environments.id, name: environments.name }).from(environments);
      for (const env of envs) await this.publishEnvironment(env, touched);
    } catch (err) {
      // Kept for the retry: nothing committed is lost while Redis (or the database) is away.
      this.pending = this.pending ? mergeTouched(this.pending, touched) : touched;
      this.logger.warn(`config publication deferred: ${(err as Error).message}`);
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.queue = this.queue.then(() => this.publishPending());
      }, RETRY_DELAY_MS);
    }
  }

  private async publishEnvironment(env: EnvironmentRef, touched: Touched): Promise<void> {
    // PGlite is one process's private database (and one connection): nobody to serialize with.
    if (this.database.kind !== 'postgres') return this.publishLocked(env, touched);
    await this.database.transaction(async (tx) => {
      // Held until this transaction ends; the work itself runs on other pooled connections.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${PUBLICATION_LOCK_NAMESPACE}, hashtext(${env.name}))`);
      await this.publishLocked(env, touched);
    });
  }

  private async publishLocked(env: EnvironmentRef, touched: Touched): Promise<void> {
    const head = await this.store.head(env.name).catch((err: Error) => {
      if (this.redis.status !== 'ready') throw err; // deferred and retried
      return null; // unreadable (e.g. written by an older or newer Manager): replace it
    });
    // Read under the publication lock: another Manager sharing the database may have renewed it.
    const [row] = await this.database.db.select({ revision: environments.revision, epoch: environments.publicationEpoch }).from(environments).where(eq(environments.id, env.id));
    if (!row) return; // deleted meanwhile
    const epoch = await this.epochFor(env, row, head);
    if (epoch === null) return;
    const changes = new EnvironmentChanges(this.entities, this.store, env);
    if (head === null || head.epoch !== epoch) return this.replace(env, epoch, changes);
    let previous = head.revision;
    for await (const delta of touched.all ? changes.reconcile() : changes.of(touched)) {
      if (isEmptyDelta(delta)) continue;
      const revision = await this.nextRevision(env.id);
      const message: ConfigChangedMessage = { environment: env.name, epoch, revision, previousRevision: previous, ...delta };
      if (!(await this.store.apply(message))) {
        this.logger.warn(`Redis moved under publication of ${env.name}; replacing it whole`);
        return this.replace(env, epoch, changes);
      }
      await this.emit(message);
      previous = revision;
    }
  }

  /** Writes the whole environment (chunked, swapped in atomically) and tells Gateways to reload. */
  private async replace(env: EnvironmentRef, epoch: string, changes: EnvironmentChanges): Promise<void> {
    const revision = await this.nextRevision(env.id);
    const signingKeys = await this.entities.signingKeys(env.id);
    if (!(await this.store.replace(env.name, { epoch, revision, signingKeys, chunks: changes.everything() }))) {
      this.logger.warn(`not publishing ${env.name} revision ${revision}: Redis already holds a newer publication`);
      return;
    }
    await this.store.removeLegacyLayout(env.name);
    const none = { upserted: [], removed: [] };
    await this.emit({ environment: env.name, epoch, revision, previousRevision: 0, proxies: none, credentials: none, full: true });
  }

  private async nextRevision(environmentId: string): Promise<number> {
    const [{ revision }] = await this.database.db
      .update(environments)
      .set({ revision: sql`${environments.revision} + 1` })
      .where(eq(environments.id, environmentId))
      .returning({ revision: environments.revision });
    return revision;
  }

  private async emit(message: ConfigChangedMessage): Promise<void> {
    await firstValueFrom(this.bus.emit(CONFIG_CHANGED, message).pipe(timeout(5000)), { defaultValue: undefined });
    this.logger.log(`published ${message.environment} revision ${message.revision}`);
  }

  /**
   * The epoch to publish under, renewed (and stored) when this database's revisions would not
   * supersede what Redis holds: a restored backup (same epoch, Redis ahead of the database), or
   * another database's newer epoch found at this Manager's first publication of the environment
   * (a fresh `.data` or a switch of database: the Manager that starts takes over). A newer epoch
   * appearing later means another Manager took over after this one started: it is not fought
   * over on every change (null: publish nothing).
   */
  private async epochFor(env: EnvironmentRef, row: { revision: number; epoch: string | null }, head: ConfigHead | null): Promise<string | null> {
    const firstSinceBoot = !this.published.has(env.name);
    this.published.add(env.name);
    let reason: string | null = null;
    if (row.epoch === null) reason = head ? 'first publication from this database' : null;
    else if (head?.epoch === row.epoch && head.revision > row.revision)
      reason = `Redis holds revision ${head.revision} of this database's epoch, the database only ${row.revision} (restored from a backup?)`;
    else if (head?.epoch && head.epoch > row.epoch) {
      if (!firstSinceBoot) {
        if (!this.superseded.has(env.name))
          this.logger.error(`environment ${env.name} is now published from another database (epoch ${head.epoch}); this Manager's changes stay unpublished until it restarts`);
        this.superseded.add(env.name);
        return null;
      }
      reason = `Redis holds a publication of epoch ${head.epoch} from another database`;
    }
    if (row.epoch !== null && reason === null) return row.epoch;
    const epoch = newPublicationEpoch(head?.epoch);
    await this.database.db.update(environments).set({ publicationEpoch: epoch }).where(eq(environments.id, env.id));
    this.superseded.delete(env.name);
    if (reason) this.logger.warn(`environment ${env.name}: new publication epoch ${epoch}; ${reason}`);
    return epoch;
  }
}
