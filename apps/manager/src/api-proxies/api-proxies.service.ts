import { Injectable } from '@nestjs/common';
import type { ApiProxy, CreateApiProxy, PolicySpec, UpdateApiProxy } from '@idm/domain';
import { PolicyConfigError, validatePolicySpecs } from '@idm/policies';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { Database, type Tx } from '../database/database';
import { apiProxies, environments, projects, proxyDeployments } from '../database/schema';
import { ProblemError } from '../problems/problem.error';

type Row = typeof apiProxies.$inferSelect;

@Injectable()
export class ApiProxiesService {
  constructor(
    private readonly database: Database,
    private readonly publisher: ConfigPublisher,
  ) {}

  async list(projectId: string): Promise<ApiProxy[]> {
    await this.requireProject(projectId);
    const rows = await this.database.db.select().from(apiProxies).where(eq(apiProxies.projectId, projectId)).orderBy(asc(apiProxies.name));
    return this.withEnvironments(rows);
  }

  async get(projectId: string, id: string): Promise<ApiProxy> {
    const [row] = await this.database.db.select().from(apiProxies).where(and(eq(apiProxies.projectId, projectId), eq(apiProxies.id, id)));
    if (!row) throw ProblemError.notFound('api_proxy', id);
    return (await this.withEnvironments([row]))[0];
  }

  async create(projectId: string, input: CreateApiProxy): Promise<ApiProxy> {
    await this.requireProject(projectId);
    const policies = normalizePolicies(input.policies);
    const id = await this.database.transaction(async (tx) => {
      const environmentIds = await resolveEnvironments(tx, input.environments);
      const { environments: _, ...fields } = input;
      const [row] = await tx.insert(apiProxies).values({ ...fields, projectId, policies }).returning({ id: apiProxies.id });
      if (environmentIds.length) await tx.insert(proxyDeployments).values(environmentIds.map((environmentId) => ({ proxyId: row.id, environmentId })));
      return row.id;
    });
    await this.publisher.publish();
    return this.get(projectId, id);
  }

  async update(projectId: string, id: string, input: UpdateApiProxy): Promise<ApiProxy> {
    const policies = input.policies && normalizePolicies(input.policies);
    await this.database.transaction(async (tx) => {
      const { environments: names, ...fields } = input;
      const [row] = await tx
        .update(apiProxies)
        .set({ ...fields, ...(policies ? { policies } : {}), updatedAt: new Date() })
        .where(and(eq(apiProxies.projectId, projectId), eq(apiProxies.id, id)))
        .returning({ id: apiProxies.id });
      if (!row) throw ProblemError.notFound('api_proxy', id);
      if (names) {
        const environmentIds = await resolveEnvironments(tx, names);
        await tx.delete(proxyDeployments).where(eq(proxyDeployments.proxyId, id));
        if (environmentIds.length) await tx.insert(proxyDeployments).values(environmentIds.map((environmentId) => ({ proxyId: id, environmentId })));
      }
    });
    await this.publisher.publish();
    return this.get(projectId, id);
  }

  async remove(projectId: string, id: string): Promise<void> {
    const [row] = await this.database.db.delete(apiProxies).where(and(eq(apiProxies.projectId, projectId), eq(apiProxies.id, id))).returning();
    if (!row) throw ProblemError.notFound('api_proxy', id);
    await this.publisher.publish();
  }

  private async requireProject(projectId: string): Promise<void> {
    const [row] = await this.database.db.select({ id: projects.id }).from(projects).where(eq(projects.id, projectId));
    if (!row) throw ProblemError.notFound('project', projectId);
  }

  private async withEnvironments(rows: Row[]): Promise<ApiProxy[]> {
    const ids = rows.map((r) => r.id);
    const deployments = ids.length
      ? await this.database.db
          .select({ proxyId: proxyDeployments.proxyId, name: environments.name })
          .from(proxyDeployments)
          .innerJoin(environments, eq(environments.id, proxyDeployments.environmentId))
          .where(inArray(proxyDeployments.proxyId, ids))
          .orderBy(asc(environments.name))
      : [];
    return rows.map((r) => ({
      id: r.id,
      projectId: r.projectId,
      name: r.name,
      description: r.description,
      basePath: r.basePath,
      upstreamUrl: r.upstreamUrl,
      methods: r.methods,
      policies: r.policies,
      environments: deployments.filter((d) => d.proxyId === r.id).map((d) => d.name),
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    }));
  }
}

/** Each policy's config is checked by that policy's own schema; defaults are stored explicitly. */
function normalizePolicies(specs: PolicySpec[]): PolicySpec[] {
  try {
    return validatePolicySpecs(specs);
  } catch (err) {
    if (!(err instanceof PolicyConfigError)) throw err;
    throw ProblemError.validation(err.issues.map((i) => ({ path: ['policies', ...i.path].join('.'), message: i.message })));
  }
}

async function resolveEnvironments(tx: Tx, names: string[]): Promise<string[]> {
  const unique = [...new Set(names)];
  if (!unique.length) return [];
  const rows = await tx.select({ id: environments.id, name: environments.name }).from(environments).where(inArray(environments.name, unique));
  const unknown = unique.filter((n) => !rows.some((r) => r.name === n));
  if (unknown.length) {
    throw ProblemError.validation(unknown.map((n) => ({ path: `environments.${names.indexOf(n)}`, message: `unknown environment '${n}'` })));
  }
  return rows.map((r) => r.id);
}
