import { Injectable } from '@nestjs/common';
import { apiopsBundleSchema, BUNDLE_API_VERSION, MAX_CREDENTIAL_IMPORT, SecretBox, type ApiopsApplied, type ApiopsBundle, type ApiopsPlan, type PlannedChange } from '@idm/domain';
import { ApiProxiesService } from '../api-proxies/api-proxies.service';
import { withoutClientSecrets } from '../api-proxies/token-service-secret';
import { RolesService } from '../access/roles.service';
import { ChangeWriter } from '../audit/change-writer';
import { PasswordHasher } from '../auth/password-hasher';
import { CredentialImportService } from '../credentials/credential-import';
import { CredentialsService } from '../credentials/credentials.service';
import { ActorContext } from '../governance/actor.context';
import { PermissionService } from '../governance/permission.service';
import { problemFromDatabaseError } from '../problems/database-errors';
import { ProblemError } from '../problems/problem.error';
import { ProjectsService } from '../projects/projects.service';
import { EnvironmentRepository } from '../repositories/environment.repository';
import { TeamsService } from '../teams/teams.service';
import { checkReferences, planBundle } from './bundle-plan';
import { ProjectStateReader, type CurrentProject } from './project-state.reader';

/**
 * APIops: a project as a declarative bundle. `plan` shows the changes, `apply` makes them in one
 * transaction through the same services (so the same permission checks and audit, source
 * `apiops`), `export` writes the current state with secrets left out. Applying a bundle that
 * matches the current state changes nothing and writes no audit record.
 */
@Injectable()
export class ApiopsService {
  constructor(
    private readonly environments: EnvironmentRepository,
    private readonly reader: ProjectStateReader,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
    private readonly hasher: PasswordHasher,
    private readonly projects: ProjectsService,
    private readonly teams: TeamsService,
    private readonly roles: RolesService,
    private readonly proxies: ApiProxiesService,
    private readonly credentials: CredentialsService,
    private readonly imports: CredentialImportService,
  ) {}

  async plan(raw: unknown, prune: boolean): Promise<ApiopsPlan> {
    const { bundle, plan } = await this.prepare(raw, prune);
    return { project: bundle.project.name, changes: plan };
  }

  async apply(raw: unknown, prune: boolean): Promise<ApiopsApplied> {
    const { bundle, current, plan } = await this.prepare(raw, prune);
    if (plan.length) {
      const actor = { ...ActorContext.current(), source: 'apiops' as const };
      await ActorContext.run(actor, () => this.changes.batch(() => this.execute(bundle, current, plan)));
    }
    return { project: bundle.project.name, applied: plan };
  }

  async export(projectId: string): Promise<ApiopsBundle> {
    this.permissions.check('project:read', { projectId });
    const project = await this.projects.get(projectId);
    const current = await this.reader.read(project.name);
    for (const permission of ['team:read', 'proxy:read', 'credential:read'] as const) this.permissions.check(permission, { projectId });
    return {
      apiVersion: BUNDLE_API_VERSION,
      kind: 'ProjectBundle',
      project: { name: project.name, description: project.description },
      teams: current.teams.map(({ name, description }) => ({ name, description })),
      roles: current.roles.map(({ name, description, permissions }) => ({ name, description, permissions: [...permissions].sort() as never })),
      // Client secrets stay out (write-only); applying the export keeps the stored ones.
      proxies: current.proxies.map(({ id: _, policies, ...p }) => ({ ...p, policies: withoutClientSecrets(policies) }) as never),
      credentials: current.credentials.map(({ id: _, passwordHash: __, metadata, ...c }) => ({
        ...c,
        metadata: metadata.map(({ value, ...flags }) => (flags.secret ? flags : { ...flags, value })),
      })),
    };
  }

  private async prepare(raw: unknown, prune: boolean) {
    const parsed = apiopsBundleSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ProblemError(
        400,
        'invalid_bundle',
        'The bundle is invalid',
        'see errors',
        parsed.error.issues.map((i) => ({ path: ['bundle', ...i.path].join('.'), message: i.message })),
      );
    }
    const bundle = parsed.data;
    const current = await this.reader.read(bundle.project.name);
    const environmentNames = await this.environments.names();
    checkReferences(bundle, current, environmentNames);
    const plan = await planBundle(bundle, current, { prune, environmentNames, secrets: this.secrets, passwordMatches: (hash, pw) => this.hasher.verify(hash, pw) });
    return { bundle, current, plan };
  }

  /** Applies the plan in dependency order; any failure rolls the whole batch back. */
  private async execute(bundle: ApiopsBundle, current: CurrentProject, plan: PlannedChange[]): Promise<void> {
    const step = async <T>(change: PlannedChange, work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (err) {
        const problem = err instanceof ProblemError ? err : problemFromDatabaseError(err);
        if (!problem) throw err;
        throw new ProblemError(
          problem.status,
          problem.code,
          problem.title,
          `${change.kind} '${change.name}' (${change.op}): ${problem.detail ?? problem.title}`,
          problem.errors,
          problem.extensions,
        );
      }
    };
    const find = (kind: PlannedChange['kind']) => plan.filter((c) => c.kind === kind);
    const projectChange = find('project')[0];
    let projectId = current.project?.id;
    const description = bundle.project.description ?? undefined;
    if (projectChange?.op === 'create') projectId = (await step(projectChange, () => this.projects.create({ name: bundle.project.name, description }))).id;
    else if (projectChange) await step(projectChange, () => this.projects.update(projectId!, { description }));

    for (const change of find('role')) {
      const role = bundle.roles.find((r) => r.name === change.name)!;
      const input = { description: role.description ?? undefined, permissions: role.permissions };
      const existing = current.roles.find((r) => r.name === change.name);
      await step(change, () => (existing ? this.roles.updateRole(existing.id, input) : this.roles.createRole({ name: role.name, ...input })));
    }

    const teamIds = new Map(current.teams.map((t) => [t.name, t.id]));
    for (const change of find('team').filter((c) => c.op !== 'delete')) {
      const team = bundle.teams.find((t) => t.name === change.name)!;
      const input = { description: team.description ?? undefined };
      if (change.op === 'create') teamIds.set(team.name, (await step(change, () => this.teams.create(projectId!, { name: team.name, ...input }))).id);
      else await step(change, () => this.teams.update(projectId!, teamIds.get(team.name)!, input));
    }
    const teamId = (name: string | null) => (name ? teamIds.get(name)! : null);

    for (const change of find('api_proxy').filter((c) => c.op !== 'delete')) {
      const { team, description: proxyDescription, ...proxy } = bundle.proxies.find((p) => p.name === change.name)!;
      const input = { ...proxy, description: proxyDescription ?? undefined, teamId: teamId(team) };
      const existing = current.proxies.find((p) => p.name === change.name);
      await step(change, () => (existing ? this.proxies.update(projectId!, existing.id, input) : this.proxies.create(projectId!, input)));
    }

    const bundleCredentials = new Map(bundle.credentials.map((c) => [c.username, c]));
    const existingCredentials = new Map(current.credentials.map((c) => [c.username, c]));
    // New credentials without a password take the bulk path (multi-row INSERTs, one audit event
    // per chunk): nothing to hash, and one by one 100,000 of them take minutes.
    const imported = find('credential').filter((c) => c.op === 'create' && !existingCredentials.has(c.name) && bundleCredentials.get(c.name)!.password === undefined);
    for (let i = 0; i < imported.length; i += MAX_CREDENTIAL_IMPORT) {
      const chunk = imported.slice(i, i + MAX_CREDENTIAL_IMPORT);
      const entries = chunk.map((c) => {
        const { team, password: _, ...credential } = bundleCredentials.get(c.name)!;
        return { ...credential, teamId: teamId(team), apiKeys: [] };
      });
      const what: PlannedChange = { op: 'create', kind: 'credential', name: `${chunk[0].name}..${chunk[chunk.length - 1].name} (${chunk.length}, bulk)` };
      await step(what, () => this.changes.write((tx) => this.imports.insert(tx, projectId!, entries)));
    }
    const importedNames = new Set(imported.map((c) => c.name));
    for (const change of find('credential').filter((c) => c.op !== 'delete' && !importedNames.has(c.name))) {
      const { team, ...credential } = bundleCredentials.get(change.name)!;
      const existing = existingCredentials.get(change.name);
      if (existing) {
        const { username: _, ...patch } = credential;
        await step(change, () => this.credentials.update(projectId!, existing.id, { ...patch, teamId: teamId(team) }));
      } else {
        await step(change, () => this.credentials.create(projectId!, { ...credential, teamId: teamId(team), issueApiKey: false }));
      }
    }

    for (const change of plan.filter((c) => c.op === 'delete')) {
      if (change.kind === 'credential') await step(change, () => this.credentials.remove(projectId!, current.credentials.find((c) => c.username === change.name)!.id));
      if (change.kind === 'api_proxy') await step(change, () => this.proxies.remove(projectId!, current.proxies.find((p) => p.name === change.name)!.id));
    }
    for (const change of plan.filter((c) => c.op === 'delete' && c.kind === 'team')) await step(change, () => this.teams.remove(projectId!, teamIds.get(change.name)!));
  }
}
