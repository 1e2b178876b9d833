/**
 * The permission vocabulary of the Manager. A permission is `<resource>:<verb>`; roles are sets of
 * them, bound to a user or group at a scope (System, one Project, or one Team of a project).
 */
export const PERMISSIONS = [
  'environment:read',
  'environment:write',
  'project:create',
  'project:read',
  'project:write',
  'project:delete',
  'team:read',
  'team:write',
  'proxy:read',
  'proxy:write',
  'proxy:deploy',
  'credential:read',
  'credential:write',
  'credential:rotate',
  'secret:read',
  'secret:write',
  'user:read',
  'user:write',
  'role:read',
  'role:write',
  'role:bind',
  'audit:read',
  'key-manager:read',
  'key-manager:write',
  'identity-source:read',
  'identity-source:write',
  'analytics:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const SCOPE_TYPES = ['system', 'project', 'team'] as const;
export type ScopeType = (typeof SCOPE_TYPES)[number];

const all = (resource: string) => PERMISSIONS.filter((p) => p.startsWith(resource + ':'));
const reads = PERMISSIONS.filter((p) => p.endsWith(':read'));

/** Built-in roles; their permission sets are fixed in code so an upgrade can extend them. */
export const BUILT_IN_ROLES: Record<string, { description: string; permissions: readonly Permission[] }> = {
  'system-admin': { description: 'Everything, everywhere', permissions: PERMISSIONS },
  'project-owner': {
    description: 'Everything inside a project, including its teams, role bindings and audit trail',
    permissions: [
      'environment:read',
      'project:read',
      'project:write',
      'project:delete',
      ...all('team'),
      ...all('proxy'),
      ...all('credential'),
      ...all('secret'),
      'user:read',
      'role:read',
      'role:bind',
      'audit:read',
      ...all('key-manager'),
      ...all('identity-source'),
      'analytics:read',
    ] as Permission[],
  },
  'project-editor': {
    description: "Change a project's proxies and credentials",
    permissions: ['environment:read', 'project:read', 'team:read', ...all('proxy'), ...all('credential'), ...all('secret')] as Permission[],
  },
  'project-viewer': {
    description: 'Read everything in a project',
    permissions: reads.filter((p) => !['user:read', 'role:read'].includes(p)),
  },
  'team-member': {
    description: 'Work with the proxies and credentials of one team',
    permissions: [
      'environment:read',
      'project:read',
      'team:read',
      'proxy:read',
      'proxy:write',
      'credential:read',
      'credential:write',
      'credential:rotate',
      'secret:read',
      'secret:write',
    ],
  },
};

export interface Scope {
  type: ScopeType;
  /** Project id for project scope, team id for team scope, null for system. */
  id: string | null;
}

/** A grant an actor holds: permissions at a scope (team grants also name the team's project). */
export interface Grant {
  permissions: ReadonlySet<string>;
  scope: Scope;
  projectId: string | null;
  /** Name of the role the grant comes from (key managers' ALLOW/DENY role lists); absent for the system actor. */
  role?: string;
}

/** Where an entity lives: its project and, optionally, its team. Null project = a system resource. */
export interface EntityLocation {
  projectId: string | null;
  teamId?: string | null;
}

/**
 * The one rule: a grant covers an entity when it is system-wide, or for the entity's project, or
 * for the entity's team. Project-level resources (the project itself) are never covered by a team
 * grant except for reading, which a team member needs to find its project.
 */
export function grantCovers(grant: Grant, permission: string, target: EntityLocation): boolean {
  if (!grant.permissions.has(permission)) return false;
  switch (grant.scope.type) {
    case 'system':
      return true;
    case 'project':
      return target.projectId !== null && grant.scope.id === target.projectId;
    case 'team':
      if (target.projectId === null || grant.projectId !== target.projectId) return false;
      return target.teamId === undefined ? permission.endsWith(':read') : target.teamId === grant.scope.id;
  }
}

/** What a list may show: everything, or the projects and teams the grants reach, for SQL filters. */
export interface ReadFilter {
  all: boolean;
  projectIds: string[];
  teams: { id: string; projectId: string }[];
}

export function readFilter(grants: readonly Grant[], permission: string): ReadFilter {
  const filter: ReadFilter = { all: false, projectIds: [], teams: [] };
  for (const g of grants) {
    if (!g.permissions.has(permission)) continue;
    if (g.scope.type === 'system') filter.all = true;
    else if (g.scope.type === 'project') filter.projectIds.push(g.scope.id!);
    else filter.teams.push({ id: g.scope.id!, projectId: g.projectId! });
  }
  return filter;
}
