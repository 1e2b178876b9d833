import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  configChangedChannel,
  createRedisClient,
  EnvironmentConfigStore,
  newPublicationEpoch,
  RedisBusClient,
  reportRedisOutages,
  settledWithin,
  type ConfigChangedMessage,
  type ConfigHead,
} from '@idm/config-bus';
import { eq, sql } from 'drizzle-orm';
import type Redis from 'ioredis';
import { firstValueFrom, timeout } from 'rxjs';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { Database } from '../database/database';
import { environments } from '../database/schema';
import { changePieces, EnvironmentChanges, isEmptyDelta, type Delta, type EnvironmentRef } from './environment-changes';
import { EnvironmentEntities, PAGE } from './environment-entities';
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
/** A change of credentials only (the common case: one credential edited, a key added). */
const onlyCredentials = (t: Touched): boolean =>
  !t.all && !t.keyManagers && !t.identitySources && t.proxies.size === 0 && t.signingKeys.size === 0 && t.credentials.size > 0 && t.credentials.size <= PAGE;

interface Reconciliation {
  /** Environments still to reconcile, the current one first (null: read them at the next step). */
  environments: EnvironmentRef[] | null;
  /** The current environment's pages, and the epoch they compare under. */
  pages: { epoch: string; pages: AsyncGenerator<Delta> } | null;
  /** Asked again meanwhile: start over at the next step. */
  restart: boolean;
  done: Promise<void>;
  resolve: () => void;
}

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
  private reconcileTimer?: NodeJS.Timeout;
  /** The reconciliation in progress (one page per turn of the queue), if any. */
  private reconciliation: Reconciliation | null = null;
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
    // ioredis retries by itself: one line per outage, saying why (a refused TLS certificate names its settings).
    reportRedisOutages(this.redis, config.redis, (err) =>
      this.logger.warn(`Redis connection error: ${err.message}${err.code ? ` (${err.code})` : ''}${err.hint ? `; ${err.hint}` : ''}`),
    );
    // Redis may have restarted empty: reconcile (cheap where it still holds everything).
    this.redis.on('ready', () => void this.publish(touchEverything()));
    this.store = new EnvironmentConfigStore(this.redis);
    this.bus = new RedisBusClient(config.redis, 500);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.redis.connect().catch(() => this.logger.warn('Redis not reachable yet; will publish when it is'));
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.reconcileTimer);
    // A publication waiting on a Redis that stopped answering is dropped (disconnect rejects it):
    // the change is committed, and the next reconciliation (any Manager's boot) publishes it.
    await settledWithin(this.queue);
    if (this.reconciliation) this.endReconciliation(this.reconciliation);
    this.redis.disconnect();
    await this.bus.close();
  }

  isRedisReady(): boolean {
    return this.redis.status === 'ready';
  }

  /**
   * Publishes what `touched` changed (default: reconcile everything); resolves when done (never
   * rejects). A change no Gateway sees has nothing to wait for: an operator's login must not
   * queue behind a publication in progress (at boot, a reconciliation of a million credentials).
   */
  publish(touched: Touched = touchEverything()): Promise<void> {
    if (touchesNothing(touched)) return Promise.resolve();
    if (touched.all) {
      // The named entities go out at once; everything else page by page (see reconcileAll).
      const named = { ...touched, all: false };
      return Promise.all([this.publish(named), this.reconcileAll()]).then(() => undefined);
    }
    this.pending = this.pending ? mergeTouched(this.pending, touched) : touched;
    this.queue = this.queue.then(() => this.publishPending());
    return this.queue;
  }

  /**
   * Compares every environment with Redis, one page (PAGE entities) per turn of the publication
   * queue: a change committed meanwhile is published after the page in progress, not after a
   * million credentials. Resolves when a reconciliation that started after this call has ended;
   * asked again while one runs, that one starts over (what it compared may predate the reason).
   */
  private reconcileAll(): Promise<void> {
    if (this.reconciliation) {
      this.reconciliation.restart = true;
      return this.reconciliation.done;
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.reconciliation = { environments: null, pages: null, restart: false, done, resolve };
    this.enqueue(() => this.reconcileStep());
    return done;
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task);
  }

  /** One page of the reconciliation; queues the next behind whatever was queued meanwhile. */
  private async reconcileStep(): Promise<void> {
    const r = this.reconciliation;
    if (r === null) return;
    if (this.closing) return this.endReconciliation(r);
    try {
      if (r.restart) {
        await r.pages?.pages.return(undefined);
        Object.assign(r, { environments: null, pages: null, restart: false });
      }
      r.environments ??= await this.database.db.select({ id: environments.id, name: environments.name }).from(environments);
      const env = r.environments[0];
      if (env === undefined) return this.endReconciliation(r);
      if (await this.withPublicationLock(env, () => this.reconcilePage(env, r))) {
        r.environments.shift();
        r.pages = null;
      }
    } catch (err) {
      // Redis or the database away: start over when they answer (what was compared may be stale).
      r.restart = true;
      this.logger.warn(`config reconciliation deferred: ${(err as Error).message}`);
      this.reconcileTimer = setTimeout(() => {
        this.reconcileTimer = undefined;
        this.enqueue(() => this.reconcileStep());
      }, RETRY_DELAY_MS);
      return;
    }
    this.enqueue(() => this.reconcileStep());
  }

  private endReconciliation(r: Reconciliation): void {
    this.reconciliation = null;
    r.resolve();
  }

  /** Publishes the next page's difference of `env`; true when the environment is done. */
  private async reconcilePage(env: EnvironmentRef, r: Reconciliation): Promise<boolean> {
    const target = await this.target(env);
    if (target === null) return true;
    const { epoch, head } = target;
    if (head === null || head.epoch !== epoch) {
      await this.replace(env, epoch, new EnvironmentChanges(this.entities, this.store, env));
      return true;
    }
    // A new epoch since the previous page (another Manager took over, a replacement): start this environment over.
    if (r.pages === null || r.pages.epoch !== epoch) r.pages = { epoch, pages: new EnvironmentChanges(this.entities, this.store, env).reconcile() };
    const next = await r.pages.pages.next();
    if (next.done) return true;
    if (isEmptyDelta(next.value)) return false;
    if ((await this.publishDelta(env, epoch, head.revision, next.value)) !== null) return false;
    this.logger.warn(`Redis moved under publication of ${env.name}; replacing it whole`);
    await this.replace(env, epoch, new EnvironmentChanges(this.entities, this.store, env));
    return true;
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
      if (onlyCredentials(touched)) {
        const envs = await this.entities.environmentsShowingCredentials([...touched.credentials]);
        // Credentials an environment neither shows nor holds: nothing to compare there, no lock to
        // wait for. Asked of every such environment at once (one round trip's wait, not one each).
        const concerned = await Promise.all(envs.map((env) => (env.shows ? Promise.resolve(true) : this.holdsAny(env, touched.credentials))));
        for (const [i, env] of envs.entries()) if (concerned[i]) await this.publishEnvironment(env, touched);
      } else {
        const envs = await this.database.db.select({ id: environments.id, name: environments.name }).from(environments);
        for (const env of envs) await this.publishEnvironment(env, touched);
      }
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

  /**
   * Whether Redis holds one of these credentials for `env` (a removal or an update to publish).
   * With the environment not showing their projects (read before, without the lock) that is the
   * only reason to compare: a project that becomes shown after that read is published whole by
   * the change that shows it, which reads the credentials after this change committed.
   */
  private async holdsAny(env: EnvironmentRef, credentialIds: Set<string>): Promise<boolean> {
    return (await this.store.storedDigests(env.name, 'credentials', [...credentialIds])).some((digest) => digest !== null);
  }

  private publishEnvironment(env: EnvironmentRef, touched: Touched): Promise<void> {
    return this.withPublicationLock(env, () => this.publishLocked(env, touched));
  }

  private async withPublicationLock<T>(env: EnvironmentRef, work: () => Promise<T>): Promise<T> {
    // PGlite is one process's private database (and one connection): nobody to serialize with.
    if (this.database.kind !== 'postgres') return work();
    return this.database.transaction(async (tx) => {
      // Held until this transaction ends; the work itself runs on other pooled connections.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${PUBLICATION_LOCK_NAMESPACE}, hashtext(${env.name}))`);
      return work();
    });
  }

  /** What Redis holds of `env` and the epoch to publish under (null: publish nothing). Under the publication lock. */
  private async target(env: EnvironmentRef): Promise<{ epoch: string; head: ConfigHead | null } | null> {
    // Both read under the publication lock (another Manager sharing the database may have renewed
    // the epoch), side by side: one round trip's wait instead of two on every change.
    const [head, [row]] = await Promise.all([
      this.store.head(env.name).catch((err: Error) => {
        if (this.redis.status !== 'ready') throw err; // deferred and retried
        return null; // unreadable (e.g. written by an older or newer Manager): replace it
      }),
      this.database.db.select({ revision: environments.revision, epoch: environments.publicationEpoch }).from(environments).where(eq(environments.id, env.id)),
    ]);
    if (!row) return null; // deleted meanwhile
    const epoch = await this.epochFor(env, row, head);
    return epoch === null ? null : { epoch, head };
  }

  private async publishLocked(env: EnvironmentRef, touched: Touched): Promise<void> {
    const changes = new EnvironmentChanges(this.entities, this.store, env);
    const pieces = changes.of(touched);
    // The first piece (the touched rows and their stored digests) is read while the head and the
    // environment's row are: a one-credential change waits one round of reads, not four in turn.
    const [target, first] = await Promise.all([this.target(env), pieces.next()]);
    if (target === null || target.head === null || target.head.epoch !== target.epoch) {
      await pieces.return(undefined);
      if (target === null) return;
      return this.replace(env, target.epoch, changes);
    }
    const { epoch, head } = target;
    let previous = head.revision;
    for (let next = first; !next.done; next = await pieces.next()) {
      const delta = next.value;
      if (isEmptyDelta(delta)) continue;
      const revision = await this.publishDelta(env, epoch, previous, delta);
      if (revision === null) {
        this.logger.warn(`Redis moved under publication of ${env.name}; replacing it whole`);
        return this.replace(env, epoch, changes);
      }
      previous = revision;
    }
  }

  /**
   * `delta` on top of `previous`, as one revision per piece of at most CHANGE_ENTITIES entities;
   * the last revision, or null when Redis is elsewhere (the pieces before may be written: the
   * caller replaces the environment whole).
   */
  private async publishDelta(env: EnvironmentRef, epoch: string, previous: number, delta: Delta): Promise<number | null> {
    for (const piece of changePieces(delta)) {
      const revision = await this.nextRevision(env.id);
      const message: ConfigChangedMessage = { environment: env.name, epoch, revision, previousRevision: previous, ...piece };
      // Stored, logged and announced to the Gateways in one atomic call (each entity sent once).
      if (!(await this.store.apply(message, { announce: configChangedChannel(env.name) }))) return null;
      this.logger.log(`published ${message.environment} revision ${message.revision}`);
      previous = revision;
    }
    return previous;
  }

  /** Writes the whole environment (chunked, swapped in atomically) and tells Gateways to reload. */
  private async replace(env: EnvironmentRef, epoch: string, changes: EnvironmentChanges): Promise<void> {
    const revision = await this.nextRevision(env.id);
    const signingKeys = await this.entities.signingKeys(env.id);
    const keyManagers = await this.entities.keyManagers();
    const identitySources = await this.entities.identitySources();
    if (!(await this.store.replace(env.name, { epoch, revision, signingKeys, keyManagers, identitySources, chunks: changes.everything() }))) {
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
    // On the environment's own channel: only its Gateways receive it.
    await firstValueFrom(this.bus.emit(configChangedChannel(message.environment), message).pipe(timeout(5000)), { defaultValue: undefined });
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
