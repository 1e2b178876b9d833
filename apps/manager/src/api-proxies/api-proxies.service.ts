import { Injectable } from '@nestjs/common';
import { SecretBox, type ApiProxy, type CreateApiProxy, type PolicySpec, type UpdateApiProxy } from '@idm/domain';
import { PolicyConfigError, validatePolicySpecs } from '@idm/policies/schemas';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { ChangeWriter } from '../audit/change-writer';
import { Database, type Tx } from '../database/database';
import { apiProxies, environments, proxyDeployments } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { projectRowsFilter, requireProject, requireTeamInProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { claimBasePath } from './base-path-claim';
import { sealClientSecrets, withoutClientSecrets, withStoredClientSecrets } from './token-service-secret';
import { UpstreamPolicyCheck } from './upstream-policy.check';

type Row = typeof apiProxies.$inferSelect;

@Injectable()
export class ApiProxiesService {
  constructor(
    private readonly database: Database,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
    private readonly upstreams: UpstreamPolicyCheck,
  ) {}

  async list(projectId: string): Promise<ApiProxy[]> {
    const visible = projectRowsFilter(this.permissions.readFilter('proxy:read'), projectId, apiProxies);
    if (!visible) this.permissions.check('proxy:read', { projectId });
    await requireProject(this.database.db, projectId);
    const rows = await this.database.db.select().from(apiProxies).where(visible!).orderBy(asc(apiProxies.name));
    return withEnvironments(this.database.db, rows);
  }

  async get(projectId: string, id: string): Promise<ApiProxy> {
    const row = await this.find(this.database.db, projectId, id);
    this.permissions.check('proxy:read', row);
    return (await withEnvironments(this.database.db, [row]))[0];
  }

  async create(projectId: string, input: CreateApiProxy): Promise<ApiProxy> {
    const target = { projectId, teamId: input.teamId };
    this.permissions.check('proxy:write', target);
    if (input.environments.length) this.permissions.check('proxy:deploy', target);
    const policies = sealClientSecrets(this.secrets, normalizePolicies(withStoredClientSecrets(input.policies)));
    await this.upstreams.require(input.upstreamUrl);
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      await requireTeamInProject(tx, projectId, input.teamId);
      await claimBasePath(tx, this.permissions, { projectId, basePath: input.basePath });
      const environmentIds = await resolveEnvironments(tx, input.environments);
      const { environments: _, ...fields } = input;
      const [row] = await tx.insert(apiProxies).values({ ...fields, projectId, policies }).returning();
      await deploy(tx, row.id, environmentIds);
      const [after] = await withEnvironments(tx, [row]);
      return { result: after, change: { action: 'create', entityKind: 'api_proxy', entityId: row.id, projectId, teamId: row.teamId, before: null, after: { ...after } } };
    });
  }

  async update(projectId: string, id: string, input: UpdateApiProxy): Promise<ApiProxy> {
    if (input.upstreamUrl !== undefined) await this.upstreams.require(input.upstreamUrl);
    return this.changes.write(async (tx) => {
      const row = await this.find(tx, projectId, id, true);
      const policies = input.policies && sealClientSecrets(this.secrets, normalizePolicies(withStoredClientSecrets(input.policies, row.policies)));
      this.permissions.check('proxy:write', row);
      if (input.teamId !== undefined && input.teamId !== row.teamId) {
        this.permissions.check('proxy:write', { projectId, teamId: input.teamId });
        await requireTeamInProject(tx, projectId, input.teamId);
      }
      if (input.basePath !== undefined && input.basePath !== row.basePath) await claimBasePath(tx, this.permissions, { projectId, basePath: input.basePath, proxyId: id });
      const [before] = await withEnvironments(tx, [row]);
      const { environments: names, ...fields } = input;
      const [updated] = await tx
        .update(apiProxies)
        .set({ ...fields, ...(policies ? { policies } : {}), updatedAt: new Date() })
        .where(eq(apiProxies.id, id))
        .returning();
      if (names && names.join() !== before.environments.join()) {
        this.permissions.check('proxy:deploy', updated);
        const environmentIds = await resolveEnvironments(tx, names);
        // Only environments that change are touched: a deployment's start time bounds its tokens.
        const current = await tx.select({ environmentId: proxyDeployments.environmentId }).from(proxyDeployments).where(eq(proxyDeployments.proxyId, id));
        const removed = current.map((d) => d.environmentId).filter((e) => !environmentIds.includes(e));
        if (removed.length) await tx.delete(proxyDeployments).where(and(eq(proxyDeployments.proxyId, id), inArray(proxyDeployments.environmentId, removed)));
        await deploy(tx, id, environmentIds.filter((e) => !current.some((d) => d.environmentId === e)));
      }
      const [after] = await withEnvironments(tx, [updated]);
      return { result: after, change: { action: 'update', entityKind: 'api_proxy', entityId: id, projectId, teamId: updated.teamId, before: { ...before }, after: { ...after } } };
    });
  }

  async remove(projectId: string, id: string): Promise<void> {
    await this.changes.write(async (tx) => {
      const row = await this.find(tx, projectId, id, true);
      this.permissions.check('proxy:write', row);
      const [before] = await withEnvironments(tx, [row]);
      await tx.delete(apiProxies).where(eq(apiProxies.id, id));
      return { result: undefined, change: { action: 'delete', entityKind: 'api_proxy', entityId: id, projectId, teamId: row.teamId, before: { ...before }, after: null } };
    });
  }

  private async find(db: Pick<Tx, 'select'>, projectId: string, id: string, lock = false): Promise<Row> {
    const query = db.select().from(apiProxies).where(and(eq(apiProxies.projectId, projectId), eq(apiProxies.id, id)));
    const [row] = await (lock ? query.for('update') : query);
    if (!row) {
      this.permissions.check('proxy:read', { projectId }); // do not reveal what exists where the actor cannot look
      throw ProblemError.notFound('api_proxy', id);
    }
    return row;
  }
}


async function deploy(tx: Tx, proxyId: string, environmentIds: string[]): Promise<void> {
  if (environmentIds.length) await tx.insert(proxyDeployments).values(environmentIds.map((environmentId) => ({ proxyId, environmentId })));
}

async function withEnvironments(db: Pick<Tx, 'select'>, rows: Row[]): Promise<ApiProxy[]> {
  const ids = rows.map((r) => r.id);
  const deployments = ids.length
    ? await db
        .select({ proxyId: proxyDeployments.proxyId, name: environments.name })
        .from(proxyDeployments)
        .innerJoin(environments, eq(environments.id, proxyDeployments.environmentId))
        .where(inArray(proxyDeployments.proxyId, ids))
        .orderBy(asc(environments.name))
    : [];
  return rows.map((r) => ({
    id: r.id,
    projectId: r.projectId,
    teamId: r.teamId,
    name: r.name,
    description: r.description,
    basePath: r.basePath,
    upstreamUrl: r.upstreamUrl,
    methods: r.methods,
    policies: withoutClientSecrets(r.policies),
    environments: deployments.filter((d) => d.proxyId === r.id).map((d) => d.name),
    selfService: r.selfService,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  }));
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
