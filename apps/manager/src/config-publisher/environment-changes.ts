import type { EnvironmentConfigStore, EntityChanges, SnapshotCredential, SnapshotProxy, SnapshotSigningKey } from '@idm/config-bus';
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
}

const emptyDelta = (): Delta => ({ proxies: { upserted: [], removed: [] }, credentials: { upserted: [], removed: [] } });
const size = (d: Delta) => d.proxies.upserted.length + d.proxies.removed.length + d.credentials.upserted.length + d.credentials.removed.length;
export const isEmptyDelta = (d: Delta) => size(d) === 0 && d.signingKeys === undefined;

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
      compare(ids, current, stored, delta.proxies);
    }
    const visible = await this.entities.visibleProjects(this.environment.id);
    if (projects.size > 0) {
      const untouched = await this.entities.visibleProjects(this.environment.id, proxyIds);
      for (const projectId of projects) {
        const before = untouched.has(projectId) || shownBefore.has(projectId);
        if (before === visible.has(projectId)) continue;
        // The first proxy of a project deployed here, or its last one gone: all its credentials come or go.
        for (let after: string | null = null; ;) {
          const ids = await this.entities.credentialIdsOfProject(projectId, after);
          if (ids.length === 0) break;
          yield* this.credentials(ids, visible, delta);
          after = ids[ids.length - 1];
        }
      }
    }
    for (const ids of chunked([...touched.credentials])) yield* this.credentials(ids, visible, delta);
    if (touched.signingKeys.has(this.environment.id)) await this.signingKeys(delta);
    if (!isEmptyDelta(delta)) yield delta;
  }

  async *reconcile(): AsyncGenerator<Delta> {
    const delta = emptyDelta();
    yield* this.reconcileKind('proxies', delta, (afterId) => this.entities.deployedProxies(this.environment.id, { afterId }));
    const projectIds = [...(await this.entities.visibleProjects(this.environment.id))];
    yield* this.reconcileKind('credentials', delta, (afterId) => this.entities.credentials({ projectIds, afterId }));
    await this.signingKeys(delta);
    if (!isEmptyDelta(delta)) yield delta;
  }

  /** One kind, page by page against Redis, then the ids Redis holds that the database no longer shows. */
  private async *reconcileKind(kind: 'proxies' | 'credentials', delta: Delta, page: (afterId: string | null) => Promise<{ id: string }[]>): AsyncGenerator<Delta> {
    const seen = new Set<string>();
    for (let after: string | null = null; ;) {
      const wanted = await page(after);
      if (wanted.length === 0) break;
      const ids = wanted.map((e) => e.id);
      ids.forEach((id) => seen.add(id));
      // The page is of this kind: its entities go to this kind's changes.
      compare(ids, wanted, await this.store.storedValues(this.environment.name, kind, ids), delta[kind] as EntityChanges<{ id: string }>);
      if (size(delta) >= PAGE) yield this.take(delta);
      after = ids[ids.length - 1];
    }
    for await (const stored of this.store.storedEntities(this.environment.name, kind)) {
      for (const [id] of stored) if (!seen.has(id)) delta[kind].removed.push(id);
      if (size(delta) >= PAGE) yield this.take(delta);
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
  private async *credentials(ids: string[], visible: Set<string>, delta: Delta): AsyncGenerator<Delta> {
    const built = await this.entities.credentials({ ids });
    const shown = built.filter((c) => visible.has(c.projectId));
    compare(ids, shown, await this.store.storedValues(this.environment.name, 'credentials', ids), delta.credentials);
    if (size(delta) >= PAGE) yield this.take(delta);
  }

  private async signingKeys(delta: Delta): Promise<void> {
    const keys = await this.entities.signingKeys(this.environment.id);
    if (JSON.stringify(keys) !== (await this.store.storedKeys(this.environment.name))) delta.signingKeys = keys;
  }

  /** Hands out what has accumulated and starts the next piece. */
  private take(delta: Delta): Delta {
    const piece = { ...delta };
    Object.assign(delta, emptyDelta());
    delete delta.signingKeys;
    return piece;
  }
}

/** `ids` with their wanted entities (absent = must not be shown) against Redis' JSON of each. */
function compare<T extends { id: string }>(ids: string[], wanted: T[], stored: (string | null)[], into: EntityChanges<T>): void {
  const byId = new Map(wanted.map((e) => [e.id, e]));
  ids.forEach((id, i) => {
    const entity = byId.get(id);
    if (entity === undefined) {
      if (stored[i] !== null) into.removed.push(id);
    } else if (JSON.stringify(entity) !== stored[i]) into.upserted.push(entity);
  });
}
