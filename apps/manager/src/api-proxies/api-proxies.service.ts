import { Injectable } from '@nestjs/common';
import { SecretBox, type ApiProxy, type CreateApiProxy, type PolicySpec, type UpdateApiProxy } from '@idm/domain';
import { PolicyConfigError, validatePolicySpecs } from '@idm/policies/schemas';
import { ChangeWriter } from '../audit/change-writer';
import { Database, type Reads, type Tx } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject, requireTeamInProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { ApiProxyRepository, type ApiProxyRow } from '../repositories/api-proxy.repository';
import { EnvironmentRepository } from '../repositories/environment.repository';
import { claimBasePath } from './base-path-claim';
import { sealClientSecrets, withoutClientSecrets, withStoredClientSecrets } from './token-service-secret';
import { UpstreamPolicyCheck } from './upstream-policy.check';
import { IdentitySourceUseCheck } from '../identity-sources/identity-source-use.check';
import { KeyManagerUseCheck } from '../key-managers/key-manager-use.check';
import { SecretUseCheck } from '../project-secrets/secret-use.check';

type Row = ApiProxyRow;

@Injectable()
export class ApiProxiesService {
  constructor(
    private readonly database: Database,
    private readonly proxies: ApiProxyRepository,
    private readonly environments: EnvironmentRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
    private readonly upstreams: UpstreamPolicyCheck,
    private readonly keyManagerUse: KeyManagerUseCheck,
    private readonly identitySourceUse: IdentitySourceUseCheck,
    private readonly secretUse: SecretUseCheck,
  ) {}

  async list(projectId: string): Promise<ApiProxy[]> {
    const visible = this.proxies.readableIn(this.permissions.readFilter('proxy:read'), projectId);
    if (!visible) this.permissions.check('proxy:read', { projectId });
    await requireProject(this.database.db, projectId);
    return this.withEnvironments(await this.proxies.list(visible!));
  }

  async get(projectId: string, id: string): Promise<ApiProxy> {
    const row = await this.find(projectId, id);
    this.permissions.check('proxy:read', row);
    return (await this.withEnvironments([row]))[0];
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
      await this.keyManagerUse.require(tx, projectId, policies);
      await this.identitySourceUse.require(tx, projectId, policies);
      await this.secretUse.require(tx, projectId, policies);
      await claimBasePath(tx, this.proxies, this.permissions, { projectId, basePath: input.basePath });
      const environmentIds = await this.resolveEnvironments(tx, input.environments);
      const { environments: _, ...fields } = input;
      const row = await this.proxies.insert(tx, { ...fields, projectId, policies });
      await this.proxies.deploy(tx, row, environmentIds);
      const [after] = await this.withEnvironments([row], tx);
      return { result: after, change: { action: 'create', entityKind: 'api_proxy', entityId: row.id, projectId, teamId: row.teamId, before: null, after: { ...after } } };
    });
  }

  async update(projectId: string, id: string, input: UpdateApiProxy): Promise<ApiProxy> {
    if (input.upstreamUrl !== undefined) await this.upstreams.require(input.upstreamUrl);
    return this.changes.write(async (tx) => {
      const row = await this.find(projectId, id, tx, true);
      const policies = input.policies && sealClientSecrets(this.secrets, normalizePolicies(withStoredClientSecrets(input.policies, row.policies)));
      this.permissions.check('proxy:write', row);
      if (policies) await this.keyManagerUse.require(tx, projectId, policies);
      if (policies) await this.identitySourceUse.require(tx, projectId, policies);
      if (policies) await this.secretUse.require(tx, projectId, policies);
      if (input.teamId !== undefined && input.teamId !== row.teamId) {
        this.permissions.check('proxy:write', { projectId, teamId: input.teamId });
        await requireTeamInProject(tx, projectId, input.teamId);
      }
      if (input.basePath !== undefined && input.basePath !== row.basePath)
        await claimBasePath(tx, this.proxies, this.permissions, { projectId, basePath: input.basePath, proxyId: id });
      const [before] = await this.withEnvironments([row], tx);
      const { environments: names, ...fields } = input;
      const updated = await this.proxies.update(tx, id, { ...fields, ...(policies ? { policies } : {}), updatedAt: new Date() });
      if (names && names.join() !== before.environments.join()) {
        this.permissions.check('proxy:deploy', updated);
        const environmentIds = await this.resolveEnvironments(tx, names);
        // Only environments that change are touched: a deployment's start time bounds its tokens.
        const current = await this.proxies.deployedEnvironmentIds(tx, id);
        await this.proxies.undeploy(
          tx,
          id,
          current.filter((e) => !environmentIds.includes(e)),
        );
        await this.proxies.deploy(
          tx,
          row,
          environmentIds.filter((e) => !current.includes(e)),
        );
      }
      const [after] = await this.withEnvironments([updated], tx);
      // The change compares the stored policies, sealed secrets included: a new client secret is a
      // change (audited as a secret change, republished) although the API's view of it is the same.
      const change = { before: { ...before, policies: row.policies }, after: { ...after, policies: updated.policies } };
      return { result: after, change: { action: 'update', entityKind: 'api_proxy', entityId: id, projectId, teamId: updated.teamId, ...change } };
    });
  }

  async remove(projectId: string, id: string): Promise<void> {
    await this.changes.write(async (tx) => {
      const row = await this.find(projectId, id, tx, true);
      this.permissions.check('proxy:write', row);
      const [before] = await this.withEnvironments([row], tx);
      await this.proxies.delete(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'api_proxy', entityId: id, projectId, teamId: row.teamId, before: { ...before }, after: null } };
    });
  }

  private async find(projectId: string, id: string, db?: Reads, lock = false): Promise<Row> {
    const row = await this.proxies.find(projectId, id, db, lock);
    if (!row) {
      this.permissions.check('proxy:read', { projectId }); // do not reveal what exists where the actor cannot look
      throw ProblemError.notFound('api_proxy', id);
    }
    return row;
  }

  private async withEnvironments(rows: Row[], db?: Reads): Promise<ApiProxy[]> {
    const names = await this.proxies.environmentNamesOf(
      rows.map((r) => r.id),
      db,
    );
    return rows.map((r) => toApiProxy(r, names.get(r.id) ?? []));
  }

  private async resolveEnvironments(tx: Tx, names: string[]): Promise<string[]> {
    const unique = [...new Set(names)];
    if (!unique.length) return [];
    const rows = await this.environments.byNames(tx, unique);
    const unknown = unique.filter((n) => !rows.some((r) => r.name === n));
    if (unknown.length) {
      throw ProblemError.validation(unknown.map((n) => ({ path: `environments.${names.indexOf(n)}`, message: `unknown environment '${n}'` })));
    }
    return rows.map((r) => r.id);
  }
}

function toApiProxy(r: Row, environments: string[]): ApiProxy {
  return {
    id: r.id,
    projectId: r.projectId,
    teamId: r.teamId,
    name: r.name,
    description: r.description,
    basePath: r.basePath,
    upstreamUrl: r.upstreamUrl,
    methods: r.methods,
    policies: withoutClientSecrets(r.policies),
    environments,
    selfService: r.selfService,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
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
