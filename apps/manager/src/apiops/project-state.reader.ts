import { Injectable } from '@nestjs/common';
import { isoOrNull } from '@idm/platform';
import { ApiProxyRepository } from '../repositories/api-proxy.repository';
import { CredentialRepository, type StoredMetadataEntry } from '../repositories/credential.repository';
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
  }[];
  /** Custom roles of the installation (roles are not project-owned). */
  roles: { id: string; name: string; description: string | null; permissions: string[] }[];
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
  ) {}

  async read(projectName: string): Promise<CurrentProject> {
    const customRoles = (await this.roles.listCustom()).map((r) => ({ id: r.id, name: r.name, description: r.description, permissions: r.permissions }));
    const project = await this.projects.findByName(projectName);
    if (!project) return { project: null, teams: [], proxies: [], credentials: [], roles: customRoles };
    const teamRows = await this.teams.list(project.id, 'all');
    const teamNames = new Map(teamRows.map((t) => [t.id, t.name]));
    const teamName = (id: string | null) => (id === null ? null : (teamNames.get(id) ?? null));
    const proxyRows = await this.proxies.listInProject(project.id);
    const environmentNames = await this.proxies.environmentNamesOf(proxyRows.map((p) => p.id));
    const credentialRows = await this.credentials.listInProject(project.id);
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
        policies: p.policies,
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
      })),
      roles: customRoles,
    };
  }
}
