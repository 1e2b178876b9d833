import { Injectable } from '@nestjs/common';
import type { ReadFilter } from '@idm/domain';
import { and, asc, eq, inArray, ne, or, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { Database, type Reads, type Tx } from '../database/database';
import { apiProxies, environments, proxyDeployments } from '../database/schema';
import { ProjectEntityRepository } from './entity.repository';
import { groupBy } from './group-by';
import { projectRowsFilter } from './project-rows-filter';

export type ApiProxyRow = typeof apiProxies.$inferSelect;

/** Key of the advisory lock ("idmb") that serializes every base-path check with its write. */
export const BASE_PATH_LOCK_NAMESPACE = 0x69646d62;

/**
 * Queries of the API proxy aggregate (proxies and their deployments). Writes take the
 * transaction of a ChangeWriter change, so they are audited with it.
 */
@Injectable()
export class ApiProxyRepository extends ProjectEntityRepository<typeof apiProxies> {
  constructor(database: Database) {
    super(apiProxies, database);
  }

  /** The condition for the project's proxies the reader may see (null: none, deny the list). */
  readableIn(filter: ReadFilter, projectId: string): SQL | null {
    return projectRowsFilter(filter, projectId, apiProxies);
  }

  /** The proxies the `visible` filter lets through (project, and teams for a team member), by name. */
  list(visible: SQL): Promise<ApiProxyRow[]> {
    return this.database.db.select().from(apiProxies).where(visible).orderBy(asc(apiProxies.name));
  }

  /** Every proxy of the project, by name. */
  listInProject(projectId: string): Promise<ApiProxyRow[]> {
    return this.database.db.select().from(apiProxies).where(eq(apiProxies.projectId, projectId)).orderBy(asc(apiProxies.name));
  }

  /** The policies of every proxy, locked (master-key rotation reseals the secrets in them). */
  policiesForUpdate(tx: Tx): Promise<Pick<ApiProxyRow, 'id' | 'policies'>[]> {
    return tx.select({ id: apiProxies.id, policies: apiProxies.policies }).from(apiProxies).for('update');
  }

  /** The names of the environments each proxy is deployed to (sorted), in one query. */
  async environmentNamesOf(proxyIds: string[], db: Reads = this.database.db): Promise<Map<string, string[]>> {
    if (proxyIds.length === 0) return new Map();
    const deployments = await db
      .select({ proxyId: proxyDeployments.proxyId, name: environments.name })
      .from(proxyDeployments)
      .innerJoin(environments, eq(environments.id, proxyDeployments.environmentId))
      .where(inArray(proxyDeployments.proxyId, proxyIds))
      .orderBy(asc(environments.name));
    const names = new Map<string, string[]>();
    for (const [proxyId, rows] of groupBy(deployments, (d) => d.proxyId))
      names.set(
        proxyId,
        rows.map((d) => d.name),
      );
    return names;
  }

  /** The project and policies of every proxy deployed to the environment. */
  deployedIn(db: Reads, environmentId: string): Promise<Pick<ApiProxyRow, 'projectId' | 'policies'>[]> {
    return db
      .select({ projectId: apiProxies.projectId, policies: apiProxies.policies })
      .from(apiProxies)
      .innerJoin(proxyDeployments, eq(proxyDeployments.proxyId, apiProxies.id))
      .where(eq(proxyDeployments.environmentId, environmentId));
  }

  async deployedEnvironmentIds(tx: Tx, proxyId: string): Promise<string[]> {
    const rows = await tx.select({ environmentId: proxyDeployments.environmentId }).from(proxyDeployments).where(eq(proxyDeployments.proxyId, proxyId));
    return rows.map((d) => d.environmentId);
  }

  async deploy(tx: Tx, proxy: Pick<ApiProxyRow, 'id' | 'projectId'>, environmentIds: string[]): Promise<void> {
    if (environmentIds.length) await tx.insert(proxyDeployments).values(environmentIds.map((environmentId) => ({ proxyId: proxy.id, projectId: proxy.projectId, environmentId })));
  }

  async undeploy(tx: Tx, proxyId: string, environmentIds: string[]): Promise<void> {
    if (environmentIds.length) await tx.delete(proxyDeployments).where(and(eq(proxyDeployments.proxyId, proxyId), inArray(proxyDeployments.environmentId, environmentIds)));
  }

  /** Takes the base-path lock until the end of the transaction (works on PGlite too). */
  async lockBasePaths(tx: Tx): Promise<void> {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${BASE_PATH_LOCK_NAMESPACE}, 0)`);
  }

  /** Proxies (other than `exceptId`) whose base path is inside `basePath` or around it, by base path. */
  nestedWith(tx: Tx, basePath: string, exceptId?: string): Promise<Pick<ApiProxyRow, 'projectId' | 'teamId' | 'basePath'>[]> {
    const nested: SQL = or(sql`starts_with(${basePath}::text, ${apiProxies.basePath} || '/')`, sql`starts_with(${apiProxies.basePath}, ${basePath}::text || '/')`)!;
    return tx
      .select({ projectId: apiProxies.projectId, teamId: apiProxies.teamId, basePath: apiProxies.basePath })
      .from(apiProxies)
      .where(exceptId ? and(ne(apiProxies.id, exceptId), nested) : nested)
      .orderBy(apiProxies.basePath);
  }

  /** Pairs of base paths of different projects where one nests inside the other. */
  crossProjectNestings(): Promise<{ outer: string; inner: string }[]> {
    const inner = alias(apiProxies, 'inner_proxy');
    return this.database.db
      .select({ outer: apiProxies.basePath, inner: inner.basePath })
      .from(apiProxies)
      .innerJoin(inner, and(ne(inner.projectId, apiProxies.projectId), sql`starts_with(${inner.basePath}, ${apiProxies.basePath} || '/')`))
      .orderBy(asc(apiProxies.basePath), asc(inner.basePath));
  }
}
