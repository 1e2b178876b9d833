import { endUserRegistrationSettingsSchema, type EndUserRegistrationSettings } from '@idm/domain';
import { EndUserRegistrationRepository } from '../repositories/end-user-registration.repository';
import { ClientRegistrationRepository } from '../repositories/client-registration.repository';
import type { ClientRegistrationSettings } from '@idm/domain';
import { projectBruteForceSettingsSchema, tokenSettingsSchema, type ProjectBruteForceSettings, type TokenSettings } from '@idm/domain';
import { BruteForceSettingsRepository } from '../repositories/brute-force-settings.repository';
import { Injectable } from '@nestjs/common';
import { isoOrNull } from '@idm/platform';
import { ApiProxyRepository } from '../repositories/api-proxy.repository';
import { CredentialRepository, type StoredMetadataEntry } from '../repositories/credential.repository';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';
import { KeyManagerRepository, type KeyManagerRow } from '../repositories/key-manager.repository';
import { ProjectSecretRepository, type ProjectSecretRow } from '../repositories/project-secret.repository';
import { policiesByName, type ReferenceMap } from './bundle-references';
import { ProjectRepository } from '../repositories/project.repository';
import { RoleRepository } from '../repositories/role.repository';
import { TeamRepository } from '../repositories/team.repository';

export interface CurrentProject {
  project: { id: string; name: string; description: string | null } | null;
  teams: { id: string; name: string; description: string | null }[];
  proxies: {
    id: string;
    name: string;
    description: string | null;
    team: string | null;
    basePath: string;
    upstreamUrl: string;
    methods: string[];
    policies: { type: string; config: Record<string, unknown> }[];
    environments: string[];
    selfService: 'off' | 'auto' | 'manual';
  }[];
  credentials: {
    id: string;
    username: string;
    team: string | null;
    enabled: boolean;
    expiresAt: string | null;
    email: string | null;
    fullName: string | null;
    description: string | null;
    roles: string[];
    metadata: StoredMetadataEntry[];
    access: Record<string, unknown>;
    passwordHash: string | null;
    /** Null: the credential cannot get tokens. Parsed, so defaults match a written bundle's. */
    tokenSettings: TokenSettings | null;
  }[];
  /** Custom roles of the installation (roles are not project-owned). */
  roles: { id: string; name: string; description: string | null; permissions: string[] }[];
  /** The project's own secrets and key managers, as stored (sealed material included). */
  secrets: ProjectSecretRow[];
  keyManagers: KeyManagerRow[];
  /** The System key managers: token settings may trust them for the JWT bearer grant. */
  systemKeyManagers: KeyManagerRow[];
  /** The project's own identity sources, as stored (sealed secret included); policies and token settings name them by name already. */
  identitySources: IdentitySourceRow[];
  /** The project's brute-force settings; null: none. */
  bruteForceSettings: ProjectBruteForceSettings | null;
  /** The project's self-registration switch (off unless set). */
  endUserRegistration: EndUserRegistrationSettings;
  /** The project's dynamic client registration switch (off unless set). */
  clientRegistration: ClientRegistrationSettings;
  /**
   * Credentials that are not configuration, by username, with why: clients that registered
   * themselves (RFC 7591; their registrants manage them, RFC 7592) and end users (people who
   * registered, were provisioned by an identity source or were added as users: their passwords
   * and profiles are theirs). They are not in `credentials`, so bundles neither export, change
   * nor prune them — an apply --prune would otherwise delete every user of the project.
   */
  outsideBundles: Map<string, string>;
  /** What proxies of this project may name: the project's own and the System key managers, and its secrets (id -> name). */
  references: ReferenceMap;
}

/** Reads a project by name in the shape a bundle has, plus the ids and hashes APIops needs. */
@Injectable()
export class ProjectStateReader {
  constructor(
    private readonly roles: RoleRepository,
    private readonly projects: ProjectRepository,
    private readonly teams: TeamRepository,
    private readonly proxies: ApiProxyRepository,
    private readonly credentials: CredentialRepository,
    private readonly keyManagers: KeyManagerRepository,
    private readonly secrets: ProjectSecretRepository,
    private readonly bruteForceSettings: BruteForceSettingsRepository,
    private readonly endUserRegistration: EndUserRegistrationRepository,
    private readonly clientRegistrations: ClientRegistrationRepository,
    private readonly identitySources: IdentitySourceRepository,
  ) {}

  async read(projectName: string): Promise<CurrentProject> {
    const customRoles = (await this.roles.listCustom()).map((r) => ({ id: r.id, name: r.name, description: r.description, permissions: r.permissions }));
    const project = await this.projects.findByName(projectName);
    const allKeyManagers = await this.keyManagers.all();
    const systemKeyManagers = allKeyManagers.filter((k) => k.projectId === null);
    if (!project)
      return {
        project: null,
        teams: [],
        proxies: [],
        credentials: [],
        roles: customRoles,
        secrets: [],
        keyManagers: [],
        systemKeyManagers,
        identitySources: [],
        bruteForceSettings: null,
        endUserRegistration: { selfRegistration: false, requireVerifiedEmail: false },
        clientRegistration: { enabled: false },
        outsideBundles: new Map(),
        references: referencesOf(systemKeyManagers, []),
      };
    const ownKeyManagers = allKeyManagers.filter((k) => k.projectId === project.id);
    const secretRows = await this.secrets.list(project.id, 'all');
    const references = referencesOf([...systemKeyManagers, ...ownKeyManagers], secretRows);
    const teamRows = await this.teams.list(project.id, 'all');
    const teamNames = new Map(teamRows.map((t) => [t.id, t.name]));
    const teamName = (id: string | null) => (id === null ? null : (teamNames.get(id) ?? null));
    const proxyRows = await this.proxies.listInProject(project.id);
    const environmentNames = await this.proxies.environmentNamesOf(proxyRows.map((p) => p.id));
    const registeredIds = await this.clientRegistrations.registeredClientIds(project.id);
    const allCredentialRows = await this.credentials.listInProject(project.id);
    const outsideBundles = new Map<string, string>();
    for (const c of allCredentialRows) {
      if (registeredIds.has(c.id)) outsideBundles.set(c.username, 'a client that registered itself (RFC 7591): its registrant manages it (RFC 7592), not bundles');
      else if (c.endUser !== null) outsideBundles.set(c.username, 'an end user of the project: managed under /projects/{id}/users and by the users themselves, not bundles');
    }
    const credentialRows = allCredentialRows.filter((c) => !outsideBundles.has(c.username));
    const tokenSettings = await this.credentials.tokenSettingsByCredential(project.id);
    return {
      project: { id: project.id, name: project.name, description: project.description },
      teams: teamRows.map((t) => ({ id: t.id, name: t.name, description: t.description })),
      proxies: proxyRows.map((p) => ({
        id: p.id,
        name: p.name,
        description: p.description,
        team: teamName(p.teamId),
        basePath: p.basePath,
        upstreamUrl: p.upstreamUrl,
        methods: p.methods,
        // By name: what a bundle holds, so it compares with one and moves between installations.
        policies: policiesByName(p.policies, references),
        environments: environmentNames.get(p.id) ?? [],
        selfService: p.selfService,
      })),
      credentials: credentialRows.map((c) => ({
        id: c.id,
        username: c.username,
        team: teamName(c.teamId),
        enabled: c.enabled,
        expiresAt: isoOrNull(c.expiresAt),
        email: c.email,
        fullName: c.fullName,
        description: c.description,
        roles: c.roles,
        metadata: c.metadata,
        access: c.access,
        passwordHash: c.passwordHash,
        tokenSettings: tokenSettingsOf(tokenSettings.get(c.id)),
      })),
      roles: customRoles,
      secrets: secretRows,
      keyManagers: ownKeyManagers,
      systemKeyManagers,
      identitySources: (await this.identitySources.all()).filter((r) => r.projectId === project.id).sort((x, y) => x.name.localeCompare(y.name)),
      bruteForceSettings: await this.bruteForceSettingsOf(project.id),
      endUserRegistration: await this.endUserRegistrationOf(project.id),
      clientRegistration: { enabled: await this.clientRegistrations.enabled(project.id) },
      outsideBundles,
      references,
    };
  }

  private async endUserRegistrationOf(projectId: string): Promise<EndUserRegistrationSettings> {
    const row = await this.endUserRegistration.find(projectId);
    return row ? endUserRegistrationSettingsSchema.parse(row.settings) : { selfRegistration: false, requireVerifiedEmail: false };
  }

  private async bruteForceSettingsOf(projectId: string): Promise<ProjectBruteForceSettings | null> {
    const row = await this.bruteForceSettings.find(projectId);
    return row ? projectBruteForceSettingsSchema.parse(row.settings) : null;
  }
}

function tokenSettingsOf(stored: Record<string, unknown> | undefined): TokenSettings | null {
  return stored === undefined ? null : tokenSettingsSchema.parse(stored);
}

function referencesOf(keyManagers: KeyManagerRow[], secrets: ProjectSecretRow[]): ReferenceMap {
  return { keyManagers: new Map(keyManagers.map((k) => [k.id, k.name])), secrets: new Map(secrets.map((s) => [s.id, s.name])) };
}
