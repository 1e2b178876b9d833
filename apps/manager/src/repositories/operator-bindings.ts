import type { OperatorGroupBinding } from '@idm/domain';
import { inArray } from 'drizzle-orm';
import type { Reads } from '../database/database';
import { projects, roles, teams } from '../database/schema';

/** A group binding of an operator-login source with its role and scope looked up. */
export interface ResolvedBinding {
  binding: OperatorGroupBinding;
  /** Index in `groupBindings`, for the 422's field path. */
  index: number;
  roleId: string;
  roleName: string;
  permissions: readonly string[];
  scopeType: 'system' | 'project' | 'team';
  scopeId: string | null;
  /** The scope's project (a team's project), null at System scope. */
  projectId: string | null;
  teamId: string | null;
}

export interface UnresolvedBinding {
  index: number;
  message: string;
}

/**
 * Looks up the roles (by name) and scopes (`project:<id>`, `team:<id>`) an operator-login
 * source's group bindings name, in three queries whatever their number. On save an unresolved one
 * is a 422; at login it is skipped (a project deleted since the save grants nothing), never an error.
 */
export async function resolveOperatorBindings(db: Reads, bindings: readonly OperatorGroupBinding[]): Promise<{ resolved: ResolvedBinding[]; unresolved: UnresolvedBinding[] }> {
  const ids = (kind: string) => bindings.filter((b) => b.scope.startsWith(`${kind}:`)).map((b) => b.scope.slice(kind.length + 1).toLowerCase());
  const roleNames = [...new Set(bindings.map((b) => b.role))];
  const [roleRows, projectRows, teamRows] = await Promise.all([
    roleNames.length ? db.select({ id: roles.id, name: roles.name, permissions: roles.permissions }).from(roles).where(inArray(roles.name, roleNames)) : [],
    ids('project').length
      ? db
          .select({ id: projects.id })
          .from(projects)
          .where(inArray(projects.id, ids('project')))
      : [],
    ids('team').length
      ? db
          .select({ id: teams.id, projectId: teams.projectId })
          .from(teams)
          .where(inArray(teams.id, ids('team')))
      : [],
  ]);
  const roleByName = new Map(roleRows.map((r) => [r.name, r]));
  const projectIds = new Set(projectRows.map((p) => p.id));
  const teamById = new Map(teamRows.map((t) => [t.id, t]));
  const resolved: ResolvedBinding[] = [];
  const unresolved: UnresolvedBinding[] = [];
  bindings.forEach((binding, index) => {
    const role = roleByName.get(binding.role);
    if (!role) return unresolved.push({ index, message: `no role named '${binding.role}'` });
    const base = { binding, index, roleId: role.id, roleName: role.name, permissions: role.permissions };
    if (binding.scope === 'system') return resolved.push({ ...base, scopeType: 'system', scopeId: null, projectId: null, teamId: null });
    const [kind, rawId] = binding.scope.split(':') as ['project' | 'team', string];
    const id = rawId.toLowerCase();
    if (kind === 'project') {
      if (!projectIds.has(id)) return unresolved.push({ index, message: `no project ${id}` });
      return resolved.push({ ...base, scopeType: 'project', scopeId: id, projectId: id, teamId: null });
    }
    const team = teamById.get(id);
    if (!team) return unresolved.push({ index, message: `no team ${id}` });
    return resolved.push({ ...base, scopeType: 'team', scopeId: id, projectId: team.projectId, teamId: id });
  });
  return { resolved, unresolved };
}

/** The bindings a user with these groups gets (one per role and scope, however many groups grant it). */
export function bindingsForGroups(resolved: readonly ResolvedBinding[], groups: readonly string[]): ResolvedBinding[] {
  const member = new Set(groups);
  const unique = new Map<string, ResolvedBinding>();
  for (const r of resolved) if (member.has(r.binding.group)) unique.set(`${r.roleId}|${r.scopeType}|${r.scopeId ?? ''}`, r);
  return [...unique.values()];
}
