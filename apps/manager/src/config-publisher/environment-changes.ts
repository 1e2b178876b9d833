import {
  entityDigest,
  type EnvironmentConfigStore,
  type EntityChanges,
  type SnapshotCredential,
  type SnapshotIdentitySource,
  type SnapshotKeyManager,
  type SnapshotProxy,
  type SnapshotSigningKey,
} from '@idm/config-bus';
import { EnvironmentEntities, PAGE } from './environment-entities';
import type { Touched } from './touched';

export interface EnvironmentRef {
  id: string;
  name: string;
}

/** One bounded piece of what must change in Redis for an environment (at most PAGE entities + keys). */
export interface Delta {
  proxies: EntityChanges<SnapshotProxy>;
  credentials: EntityChanges<SnapshotCredential>;
  signingKeys?: SnapshotSigningKey[];
  keyManagers?: SnapshotKeyManager[];
  identitySources?: SnapshotIdentitySource[];
}

const emptyDelta = (): Delta => ({ proxies: { upserted: [], removed: [] }, credentials: { upserted: [], removed: [] } });
const size = (d: Delta) => d.proxies.upserted.length + d.proxies.removed.length + d.credentials.upserted.length + d.credentials.removed.length;
export const isEmptyDelta = (d: Delta) => size(d) === 0 && d.signingKeys === undefined && d.keyManagers === undefined && d.identitySources === undefined;

/**
 * Entities one published change carries at most. A Gateway receives a change as one message:
 * the transport parses it, the schema checks it and its entries are applied in one turn of the
 * event loop, which at a reconciliation's 1,000 credentials took 100-200 ms beside a full load
 * (issue #13: no stall over 50 ms). A change's log entry is also parsed in one turn when a
 * Gateway replays it. So a page read from the database is published in pieces of this size,
 * each its own revision (as the pages already were).
 */
export const CHANGE_ENTITIES = 250;

/**
 * `delta` as pieces of at most `limit` entities, proxies first (a credential's visibility
 * follows its project's proxies); keys, key managers and identity sources ride with the first.
 */
export function* changePieces(delta: Delta, limit = CHANGE_ENTITIES): Generator<Delta> {
  if (size(delta) <= limit) {
    yield delta;
    return;
  }
  let piece: Delta = { ...delta, ...emptyDelta() };
  let n = 0;
  for (const kind of ['proxies', 'credentials'] as const) {
    for (const op of ['removed', 'upserted'] as const) {
      for (const item of delta[kind][op]) {
        (piece[kind][op] as unknown[]).push(item);
        if (++n < limit) continue;
        yield piece;
        piece = emptyDelta();
        n = 0;
      }
    }
  }
  if (n > 0) yield piece;
}

function* chunked<T>(items: T[], n = PAGE): Generator<T[]> {
  for (let i = 0; i < items.length; i += n) yield items.slice(i, i + n);
}

/**
 * Compares what the database says an environment's Gateways should see with what Redis holds,
 * entity by entity (by their JSON: both sides are written by EnvironmentEntities), and yields the
 * difference in pieces small enough for one atomic change each. `of` looks only at the touched
 * entities; `reconcile` at everything, page by page (boot, Redis back, changes of unknown reach).
 */
export class EnvironmentChanges {
  constructor(
    private readonly entities: EnvironmentEntities,
    private readonly store: EnvironmentConfigStore,
    private readonly environment: EnvironmentRef,
  ) {}

  async *of(touched: Touched): AsyncGenerator<Delta> {
    const delta = emptyDelta();
    const proxyIds = [...touched.proxies];
    /** Projects of touched proxies, and those of them the environment showed before the change. */
    const projects = new Set<string>();
    const shownBefore = new Set<string>();
    for (const ids of chunked(proxyIds)) {
      const current = await this.entities.deployedProxies(this.environment.id, { ids });
      const stored = await this.store.storedValues(this.environment.name, 'proxies', ids);
      for (const p of current) projects.add(p.projectId);
      for (const json of stored) {
        if (json === null) continue;
        const { projectId } = JSON.parse(json) as SnapshotProxy;
        projects.add(projectId);
        shownBefore.add(projectId);
      }
      compare(
        ids,
        current,
        stored.map((json) => (json === null ? null : entityDigest(json))),
        delta.proxies,
      );
    }
    if (projects.size > 0) {
      const visible = await this.entities.visibleAmong(this.environment.id, [...projects]);
      const untouched = await this.entities.visibleProjects(this.environment.id, proxyIds);
      for (const projectId of projects) {
        const before = untouched.has(projectId) || shownBefore.has(projectId);
        if (before === visible.has(projectId)) continue;
        // The first proxy of a project deployed here, or its last one gone: all its credentials come or go.
        for (let after: string | null = null; ;) {
          const ids = await this.entities.credentialIdsOfProject(projectId, after);
          if (ids.length === 0) break;
          yield* this.credentials(ids, delta);
          after = ids[ids.length - 1];
        }
      }
    }
    for (const ids of chunked([...touched.credentials])) yield* this.credentials(ids, delta);
    if (touched.signingKeys.has(this.environment.id)) await this.signingKeys(delta);
    if (touched.keyManagers) await this.keyManagers(delta);
    if (touched.identitySources) await this.identitySources(delta);
    if (!isEmptyDelta(delta)) yield delta;
  }

  /**
   * Everything, one page at a time: each yielded piece is computed from what the database and
   * Redis hold at that moment and must be applied before the next is asked for. Between two
   * pieces the publisher publishes other changes (it runs one piece per turn of its queue), so
   * nothing carried over from an earlier page may be stale: every page yields, even an empty one.
   */
  async *reconcile(): AsyncGenerator<Delta> {
    const delta = emptyDelta();
    yield* this.reconcileKind(
      'proxies',
      delta,
      async (afterId) => {
        const wanted = await this.entities.deployedProxies(this.environment.id, { afterId });
        return { ids: wanted.map((p) => p.id), wanted };
      },
      (ids) => this.entities.deployedProxies(this.environment.id, { ids }),
    );
    // Pages of the projects shown when the pass starts (read once: it is a scan of the deployed
    // proxies), each page's projects asked again (a project whose last proxy went between two
    // pages shows nothing more). A project shown since then had its credentials published by
    // that change: the removal pass keeps them, as it looks each unseen id up again.
    const projectIds = [...(await this.entities.visibleProjects(this.environment.id))];
    yield* this.reconcileKind(
      'credentials',
      delta,
      async (afterId) => {
        const read = await this.entities.credentialsIn(this.environment.id, { projectIds, afterId });
        return { ids: read.map((r) => r.credential.id), wanted: read.filter((r) => r.shown).map((r) => r.credential) };
      },
      (ids) => this.shownCredentials(ids),
    );
    await this.signingKeys(delta);
    await this.keyManagers(delta);
    await this.identitySources(delta);
    yield this.take(delta);
  }

  /**
   * One kind, page by page against Redis, then what Redis holds that no page showed. Such an id
   * is looked up again before it is removed: changes published between two pages may have added
   * entities behind the pages already read (a credential created meanwhile).
   */
  private async *reconcileKind(
    kind: 'proxies' | 'credentials',
    delta: Delta,
    page: (afterId: string | null) => Promise<{ ids: string[]; wanted: { id: string }[] }>,
    current: (ids: string[]) => Promise<{ id: string }[]>,
  ): AsyncGenerator<Delta> {
    const seen = new Set<string>();
    for (let after: string | null = null; ;) {
      // `ids`: the page read (the cursor); `wanted`: those of them the environment shows.
      const { ids, wanted } = await page(after);
      if (ids.length === 0) break;
      ids.forEach((id) => seen.add(id));
      // The page is of this kind: its entities go to this kind's changes.
      compare(ids, wanted, await this.store.storedDigests(this.environment.name, kind, ids), delta[kind] as EntityChanges<{ id: string }>);
      yield this.take(delta);
      after = ids[ids.length - 1];
    }
    for await (const stored of this.store.storedEntities(this.environment.name, kind)) {
      const ids = stored.filter(([id]) => !seen.has(id)).map(([id]) => id);
      if (ids.length > 0) compare(ids, await current(ids), await this.store.storedDigests(this.environment.name, kind, ids), delta[kind] as EntityChanges<{ id: string }>);
      // Even an empty chunk is a turn: at 1M the removal pass is a thousand HSCAN round trips.
      yield this.take(delta);
    }
  }

  /** Everything the environment shows, page by page: what a full replacement writes. */
  async *everything(): AsyncGenerator<{ proxies?: SnapshotProxy[]; credentials?: SnapshotCredential[] }> {
    for (let after: string | null = null; ;) {
      const proxies = await this.entities.deployedProxies(this.environment.id, { afterId: after });
      if (proxies.length === 0) break;
      yield { proxies };
      after = proxies[proxies.length - 1].id;
    }
    const projectIds = [...(await this.entities.visibleProjects(this.environment.id))];
    for (let after: string | null = null; ;) {
      const credentials = await this.entities.credentials({ projectIds, afterId: after });
      if (credentials.length === 0) break;
      yield { credentials };
      after = credentials[credentials.length - 1].id;
    }
  }

  /** Compares one page of credential ids; yields a piece whenever the delta reaches PAGE. */
  private async *credentials(ids: string[], delta: Delta): AsyncGenerator<Delta> {
    const [shown, stored] = await Promise.all([this.shownCredentials(ids), this.store.storedDigests(this.environment.name, 'credentials', ids)]);
    compare(ids, shown, stored, delta.credentials);
    if (size(delta) >= PAGE) yield this.take(delta);
  }

  /**
   * The given credentials the environment shows (their project has a proxy deployed there), in
   * one query. Visibility is asked of their projects only: one credential's change never reads
   * the environment's whole list of deployed proxies (10,000 rows at the scale bench).
   */
  private async shownCredentials(ids: string[]): Promise<SnapshotCredential[]> {
    return (await this.entities.credentialsIn(this.environment.id, { ids })).filter((r) => r.shown).map((r) => r.credential);
  }

  private async signingKeys(delta: Delta): Promise<void> {
    const keys = await this.entities.signingKeys(this.environment.id);
    if (JSON.stringify(keys) !== (await this.store.storedKeys(this.environment.name))) delta.signingKeys = keys;
  }

  private async keyManagers(delta: Delta): Promise<void> {
    const keyManagers = await this.entities.keyManagers();
    if (JSON.stringify(keyManagers) !== (await this.store.storedKeyManagers(this.environment.name))) delta.keyManagers = keyManagers;
  }

  private async identitySources(delta: Delta): Promise<void> {
    const sources = await this.entities.identitySources();
    if (JSON.stringify(sources) !== (await this.store.storedIdentitySources(this.environment.name))) delta.identitySources = sources;
  }

  /** Hands out what has accumulated and starts the next piece. */
  private take(delta: Delta): Delta {
    const piece = { ...delta };
    Object.assign(delta, emptyDelta());
    delete delta.signingKeys;
    delete delta.keyManagers;
    delete delta.identitySources;
    return piece;
  }
}

/**
 * `ids` with their wanted entities (absent = must not be shown) against the digest of Redis' JSON
 * of each (`entityDigest`: the digests come back instead of the JSON, 40 bytes per entity).
 */
function compare<T extends { id: string }>(ids: string[], wanted: T[], stored: (string | null)[], into: EntityChanges<T>): void {
  const byId = new Map(wanted.map((e) => [e.id, e]));
  ids.forEach((id, i) => {
    const entity = byId.get(id);
    if (entity === undefined) {
      if (stored[i] !== null) into.removed.push(id);
    } else if (entityDigest(JSON.stringify(entity)) !== stored[i]) into.upserted.push(entity);
  });
}
