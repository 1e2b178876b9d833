import { EndUserRegistrationSettingsService } from '../end-users/self-service/end-user-registration-settings.service';
import { ClientRegistrationSettingsService } from '../client-registration/client-registration-settings.service';
import { Injectable } from '@nestjs/common';
import {
  apiopsBundleSchema,
  BUNDLE_API_VERSION,
  DEFAULT_SECRET_OVERLAP_SECONDS,
  MAX_CREDENTIAL_IMPORT,
  SecretBox,
  type ApiopsApplied,
  type ApiopsBundle,
  type ApiopsPlan,
  type BundleIdentitySource,
  type CreateIdentitySource,
  type IdentitySourceConfig,
  type BundleKeyManager,
  type PlannedChange,
  type UpdateIdentitySource,
  type UpdateKeyManager,
} from '@idm/domain';
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
import { IdentitySourcesService } from '../identity-sources/identity-sources.service';
import { KeyManagersService } from '../key-managers/key-managers.service';
import { ProjectSecretsService } from '../project-secrets/project-secrets.service';
import { EnvironmentRepository } from '../repositories/environment.repository';
import type { KeyManagerRow } from '../repositories/key-manager.repository';
import { BruteForceSettingsService } from '../brute-force/brute-force-settings.service';
import { TeamsService } from '../teams/teams.service';
import { CredentialRepository } from '../repositories/credential.repository';
import { TokenSettingsService } from '../token-settings/token-settings.service';
import { desiredIdentitySourceSecret, identitySourceEntry, keyManagerEntry, oidcConfigById, secretEntry } from './bundle-entities';
import { checkReferences, planBundle } from './bundle-plan';
import { checkTokenSettingsReferences } from './bundle-token-settings';
import { inverted, policiesById } from './bundle-references';
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
    private readonly projectSecrets: ProjectSecretsService,
    private readonly keyManagers: KeyManagersService,
    private readonly bruteForceSettings: BruteForceSettingsService,
    private readonly endUserRegistration: EndUserRegistrationSettingsService,
    private readonly clientRegistration: ClientRegistrationSettingsService,
    private readonly identitySources: IdentitySourcesService,
    private readonly tokenSettings: TokenSettingsService,
    private readonly credentialRows: CredentialRepository,
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
    for (const permission of ['team:read', 'proxy:read', 'credential:read', 'secret:read'] as const) this.permissions.check(permission, { projectId });
    // Token settings travel with their credential (null: it cannot get tokens), key managers and identity sources by name.
    if (current.keyManagers.length > 0) this.permissions.check('key-manager:read', { projectId });
    if (current.identitySources.length > 0) this.permissions.check('identity-source:read', { projectId });
    const teamName = (id: string | null) => current.teams.find((t) => t.id === id)?.name ?? null;
    return {
      apiVersion: BUNDLE_API_VERSION,
      kind: 'ProjectBundle',
      project: { name: project.name, description: project.description },
      teams: current.teams.map(({ name, description }) => ({ name, description })),
      roles: current.roles.map(({ name, description, permissions }) => ({ name, description, permissions: [...permissions].sort() as never })),
      // Material and key managers' secrets stay out (write-only): applying the export keeps the stored ones.
      secrets: current.secrets.map((s) => secretEntry(s, teamName(s.teamId))),
      keyManagers: current.keyManagers.map((k) => keyManagerEntry(k, current.references.secrets)),
      // By name, secrets left out (`secret: null` only for a source that has none).
      identitySources: current.identitySources.map((r) => identitySourceEntry(r, current.references.secrets)),
      // Client secrets stay out (write-only); applying the export keeps the stored ones.
      proxies: current.proxies.map(({ id: _, policies, ...p }) => ({ ...p, policies: withoutClientSecrets(policies) }) as never),
      credentials: current.credentials.map(({ id: _, passwordHash: __, metadata, ...c }) => ({
        ...c,
        metadata: metadata.map(({ value, ...flags }) => (flags.secret ? flags : { ...flags, value })),
      })),
      bruteForceSettings: current.bruteForceSettings,
      endUserRegistration: current.endUserRegistration,
      // Self-registered clients (RFC 7591) are their registrants', left out of `credentials` (see ProjectStateReader).
      clientRegistration: current.clientRegistration,
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
    checkTokenSettingsReferences(bundle, current, current.systemKeyManagers);
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

    // Secrets and key managers before the proxies whose policies name them; names resolve to ids once they exist.
    const references = inverted(current.references);
    for (const change of find('project_secret').filter((c) => c.op !== 'delete')) {
      const { team, name, description: secretDescription, kind, material, privateKey, kid } = bundle.secrets.find((s) => s.name === change.name)!;
      const existing = current.secrets.find((s) => s.name === name);
      if (!existing) {
        const created = await step(change, () =>
          this.projectSecrets.create(projectId!, { name, description: secretDescription, teamId: teamId(team), kind, material: material!, privateKey, kid }),
        );
        references.secrets.set(name, created.id);
        continue;
      }
      if (change.fields?.includes('description')) await step(change, () => this.projectSecrets.update(projectId!, existing.id, { description: secretDescription }));
      if (change.fields?.includes('material'))
        await step(change, () => this.projectSecrets.rotate(projectId!, existing.id, { material: material!, privateKey, kid, overlapSeconds: DEFAULT_SECRET_OVERLAP_SECONDS }));
    }
    for (const change of find('key_manager').filter((c) => c.op !== 'delete')) {
      const entry = bundle.keyManagers.find((k) => k.name === change.name)!;
      const existing = current.keyManagers.find((k) => k.name === change.name);
      const clientSecretId = entry.clientSecretName === undefined ? undefined : references.secrets.get(entry.clientSecretName);
      const sharedSecretId = entry.sharedSecretName === undefined ? undefined : references.secrets.get(entry.sharedSecretName);
      if (existing)
        await step(change, () =>
          this.keyManagers.update(existing.id, { ...this.keyManagerPatch(entry, existing), clientSecretId: clientSecretId ?? null, sharedSecretId: sharedSecretId ?? null }),
        );
      else {
        const { clientSecretName: _, sharedSecretName: __, ...fields } = entry;
        references.keyManagers.set(entry.name, (await step(change, () => this.keyManagers.create({ ...fields, clientSecretId, sharedSecretId, projectId: projectId! }))).id);
      }
    }
    // Identity sources before the proxies whose basic-auth names them (by name); an oidc source's client secret name resolves like the policies' ones.
    for (const change of find('identity_source').filter((c) => c.op !== 'delete')) {
      const bundled = bundle.identitySources.find((r) => r.name === change.name)!;
      const secret = desiredIdentitySourceSecret(bundled);
      const { secret: _, ...entry } = bundled.type === 'oidc' ? { ...bundled, config: oidcConfigById(bundled.config, references.secrets) } : bundled;
      const existing = current.identitySources.find((r) => r.name === change.name);
      if (existing) await step(change, () => this.identitySources.update(existing.id, this.identitySourcePatch(entry, secret, change.fields ?? [])));
      else
        await step(change, () =>
          this.identitySources.create({
            ...entry,
            description: entry.description ?? undefined,
            secret: secret ?? undefined,
            projectId: projectId!,
            operatorLogin: null,
          } as CreateIdentitySource),
        );
    }

    for (const change of find('api_proxy').filter((c) => c.op !== 'delete')) {
      const { team, description: proxyDescription, policies, ...proxy } = bundle.proxies.find((p) => p.name === change.name)!;
      const input = { ...proxy, policies: policiesById(policies, references), description: proxyDescription ?? undefined, teamId: teamId(team) };
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
        const { team, password: _, tokenSettings: __, ...credential } = bundleCredentials.get(c.name)!;
        return { ...credential, teamId: teamId(team), apiKeys: [] };
      });
      const what: PlannedChange = { op: 'create', kind: 'credential', name: `${chunk[0].name}..${chunk[chunk.length - 1].name} (${chunk.length}, bulk)` };
      await step(what, () => this.changes.write((tx) => this.imports.insert(tx, projectId!, entries)));
    }
    const importedNames = new Set(imported.map((c) => c.name));
    for (const change of find('credential').filter((c) => c.op !== 'delete' && !importedNames.has(c.name))) {
      const { team, tokenSettings: _, ...credential } = bundleCredentials.get(change.name)!;
      const existing = existingCredentials.get(change.name);
      if (existing) {
        const { username: _, ...patch } = credential;
        await step(change, () => this.credentials.update(projectId!, existing.id, { ...patch, teamId: teamId(team) }));
      } else {
        await step(change, () => this.credentials.create(projectId!, { ...credential, teamId: teamId(team), issueApiKey: false }));
      }
    }

    // After the credentials they belong to (new ones found by username in the batch's transaction);
    // through the token settings service, so the admin API's checks apply (key managers, identity sources, jwksUri).
    for (const change of find('token_settings')) {
      const credential = await this.credentialRows.findByUsername(this.changes.reads(), projectId!, change.name);
      if (change.op === 'delete') await step(change, () => this.tokenSettings.remove(projectId!, credential!.id));
      else await step(change, () => this.tokenSettings.put(projectId!, credential!.id, bundleCredentials.get(change.name)!.tokenSettings!));
    }

    for (const change of find('end_user_registration')) await step(change, () => this.endUserRegistration.put(projectId!, bundle.endUserRegistration!));
    for (const change of find('client_registration_settings')) await step(change, () => this.clientRegistration.put(projectId!, bundle.clientRegistration!));

    for (const change of find('brute_force_settings')) {
      if (change.op === 'delete') await step(change, () => this.bruteForceSettings.remove(projectId!));
      else await step(change, () => this.bruteForceSettings.put(projectId!, bundle.bruteForceSettings!));
    }

    for (const change of plan.filter((c) => c.op === 'delete')) {
      if (change.kind === 'credential') await step(change, () => this.credentials.remove(projectId!, current.credentials.find((c) => c.username === change.name)!.id));
      if (change.kind === 'api_proxy') await step(change, () => this.proxies.remove(projectId!, current.proxies.find((p) => p.name === change.name)!.id));
    }
    // After the proxies: a secret still named by a proxy cannot be deleted.
    for (const change of plan.filter((c) => c.op === 'delete')) {
      if (change.kind === 'key_manager') await step(change, () => this.keyManagers.remove(current.keyManagers.find((k) => k.name === change.name)!.id));
      if (change.kind === 'identity_source') await step(change, () => this.identitySources.remove(current.identitySources.find((r) => r.name === change.name)!.id));
    }
    // After the key managers: a secret still named by one (clientSecretId, sharedSecretId) cannot be deleted either.
    for (const change of plan.filter((c) => c.op === 'delete' && c.kind === 'project_secret'))
      await step(change, () => this.projectSecrets.remove(projectId!, current.secrets.find((s) => s.name === change.name)!.id));
    for (const change of plan.filter((c) => c.op === 'delete' && c.kind === 'team')) await step(change, () => this.teams.remove(projectId!, teamIds.get(change.name)!));
  }

  /**
   * An update that makes the stored identity source what the bundle says. The config only when it
   * changed (a new one is checked against the upstream address policy); the secret only when
   * given (left out: the sealed one is kept; null removes it).
   */
  private identitySourcePatch(
    entry: Omit<BundleIdentitySource, 'secret' | 'config'> & { config: IdentitySourceConfig },
    secret: string | null | undefined,
    fields: string[],
  ): UpdateIdentitySource {
    return {
      description: entry.description,
      roleMappings: entry.roleMappings,
      timeoutMs: entry.timeoutMs,
      cacheTtlSeconds: entry.cacheTtlSeconds,
      enabled: entry.enabled,
      sync: entry.sync,
      ...(fields.includes('config') ? { config: entry.config } : {}),
      ...(secret === undefined ? {} : { secret }),
    };
  }

  /**
   * An update that makes the stored key manager what the bundle says: optional settings it leaves
   * out are removed, secrets it leaves out are kept (the TLS key re-supplied from its sealed copy,
   * since the service replaces TLS settings as a whole).
   */
  private keyManagerPatch(entry: BundleKeyManager, row: KeyManagerRow): UpdateKeyManager {
    const { type: _, clientSecret, sharedSecret, tls, clientSecretName: __, sharedSecretName: ___, ...rest } = entry;
    const clientKeyPem = tls.clientKeyPem ?? (row.tlsClientKey === null ? undefined : this.secrets.open(row.tlsClientKey));
    return {
      ...rest,
      description: rest.description ?? null,
      discoveryUrl: rest.discoveryUrl ?? null,
      jwksUri: rest.jwksUri ?? null,
      introspectionEndpoint: rest.introspectionEndpoint ?? null,
      clientId: rest.clientId ?? null,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      ...(sharedSecret === undefined ? {} : { sharedSecret }),
      tls: { ...tls, clientKeyPem },
    };
  }
}
