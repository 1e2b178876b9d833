import { Injectable } from '@nestjs/common';
import { isoOrNull } from '@idm/platform';
import { asc, eq, inArray } from 'drizzle-orm';
import { Database } from '../database/database';
import { apiProxies, credentials, environments, projects, proxyDeployments, roles, teams, type StoredMetadataEntry } from '../database/schema';

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
  constructor(private readonly database: Database) {}

  async read(projectName: string): Promise<CurrentProject> {
    const db = this.database.db;
    const customRoles = (await db.select().from(roles).where(eq(roles.builtIn, false)).orderBy(asc(roles.name))).map((r) => ({ id: r.id, name: r.name, description: r.description, permissions: r.permissions }));
    const [project] = await db.select().from(projects).where(eq(projects.name, projectName));
    if (!project) return { project: null, teams: [], proxies: [], credentials: [], roles: customRoles };
    const teamRows = await db.select().from(teams).where(eq(teams.projectId, project.id)).orderBy(asc(teams.name));
    const teamName = (id: string | null) => teamRows.find((t) => t.id === id)?.name ?? null;
    const proxyRows = await db.select().from(apiProxies).where(eq(apiProxies.projectId, project.id)).orderBy(asc(apiProxies.name));
    const deployments = proxyRows.length
      ? await db
          .select({ proxyId: proxyDeployments.proxyId, name: environments.name })
          .from(proxyDeployments)
          .innerJoin(environments, eq(environments.id, proxyDeployments.environmentId))
          .where(inArray(proxyDeployments.proxyId, proxyRows.map((p) => p.id)))
          .orderBy(asc(environments.name))
      : [];
    const credentialRows = await db.select().from(credentials).where(eq(credentials.projectId, project.id)).orderBy(asc(credentials.username));
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
        environments: deployments.filter((d) => d.proxyId === p.id).map((d) => d.name),
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
