import { Injectable } from '@nestjs/common';
import type { CreateRole, CreateRoleBinding, EntityLocation, Role, RoleBinding, UpdateRole } from '@idm/domain';
import { asc, eq, inArray } from 'drizzle-orm';
import { ChangeWriter } from '../audit/change-writer';
import { Database, type Tx } from '../database/database';
import { groups, operators, projects, roleBindings, roles, teams } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';

type RoleRow = typeof roles.$inferSelect;
type BindingRow = typeof roleBindings.$inferSelect;
const toRole = (r: RoleRow): Role => ({ id: r.id, name: r.name, description: r.description, builtIn: r.builtIn, permissions: r.permissions });
const toBinding = (b: BindingRow): RoleBinding => ({ id: b.id, roleId: b.roleId, subject: { type: b.subjectType, id: b.subjectId }, scope: { type: b.scopeType, id: b.scopeId }, projectId: b.projectId, createdAt: b.createdAt.toISOString() });
const SYSTEM = { projectId: null };

/** Custom roles and role bindings. Nobody can grant a permission they do not hold at that scope. */
@Injectable()
export class RolesService {
  constructor(
    private readonly database: Database,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async listRoles() {
    this.permissions.checkAnywhere('role:read');
    return (await this.database.db.select().from(roles).orderBy(asc(roles.name))).map(toRole);
  }

  createRole(input: CreateRole) {
    this.permissions.check('role:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const [row] = await tx.insert(roles).values({ ...input, permissions: [...new Set(input.permissions)] }).returning();
      return { result: toRole(row), change: { action: 'create', entityKind: 'role', entityId: row.id, projectId: null, before: null, after: row } };
    });
  }

  updateRole(id: string, input: UpdateRole) {
    this.permissions.check('role:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const before = await this.customRole(tx, id);
      const [row] = await tx
        .update(roles)
        .set({ ...input, ...(input.permissions ? { permissions: [...new Set(input.permissions)] } : {}), updatedAt: new Date() })
        .where(eq(roles.id, id))
        .returning();
      return { result: toRole(row), change: { action: 'update', entityKind: 'role', entityId: id, projectId: null, before, after: row } };
    });
  }

  async removeRole(id: string): Promise<void> {
    this.permissions.check('role:write', SYSTEM);
    await this.changes.write(async (tx) => {
      const before = await this.customRole(tx, id);
      await tx.delete(roles).where(eq(roles.id, id));
      return { result: undefined, change: { action: 'delete', entityKind: 'role', entityId: id, projectId: null, before, after: null } };
    });
  }

  /** Bindings at scopes the actor may read roles in (system readers see all), filtered in SQL. */
  async listBindings() {
    this.permissions.checkAnywhere('role:read');
    const scope = this.permissions.projectsWith('role:read');
    const query = this.database.db.select().from(roleBindings);
    const rows = await (scope.all ? query : query.where(inArray(roleBindings.projectId, scope.projectIds.length ? scope.projectIds : ['00000000-0000-0000-0000-000000000000']))).orderBy(asc(roleBindings.createdAt));
    return rows.map(toBinding);
  }

  createBinding(input: CreateRoleBinding) {
    return this.changes.write(async (tx) => {
      const [role] = await tx.select().from(roles).where(eq(roles.id, input.roleId));
      if (!role) throw ProblemError.validation([{ path: 'roleId', message: `role '${input.roleId}' does not exist` }]);
      const target = await resolveScope(tx, input.scope);
      this.permissions.check('role:bind', target);
      const missing = role.permissions.filter((p) => !this.permissions.can(p, target));
      if (missing.length) {
        throw new ProblemError(403, 'escalation_denied', 'Permission escalation denied', `granting '${role.name}' needs permissions you do not hold at that scope: ${missing.join(', ')}`, undefined, { missingPermissions: missing });
      }
      await requireSubject(tx, input.subject);
      const [row] = await tx
        .insert(roleBindings)
        .values({ roleId: role.id, subjectType: input.subject.type, subjectId: input.subject.id, scopeType: input.scope.type, scopeId: input.scope.id, projectId: target.projectId })
        .returning();
      return { result: toBinding(row), change: { action: 'create', entityKind: 'role_binding', entityId: row.id, projectId: target.projectId, teamId: target.teamId ?? null, before: null, after: { ...row, roleName: role.name } } };
    });
  }

  removeBinding(id: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const [binding] = await tx.select().from(roleBindings).where(eq(roleBindings.id, id));
      if (!binding) throw ProblemError.notFound('role_binding', id);
      const target = { projectId: binding.projectId, teamId: binding.scopeType === 'team' ? binding.scopeId : undefined };
      this.permissions.check('role:bind', target);
      await tx.delete(roleBindings).where(eq(roleBindings.id, id));
      return { result: undefined, change: { action: 'delete', entityKind: 'role_binding', entityId: id, projectId: binding.projectId, teamId: target.teamId ?? null, before: binding, after: null } };
    });
  }

  private async customRole(tx: Tx, id: string): Promise<RoleRow> {
    const [row] = await tx.select().from(roles).where(eq(roles.id, id)).for('update');
    if (!row) throw ProblemError.notFound('role', id);
    if (row.builtIn) throw ProblemError.conflict('built_in_role', 'built-in roles cannot be changed or deleted');
    return row;
  }
}

async function resolveScope(tx: Tx, scope: CreateRoleBinding['scope']): Promise<EntityLocation> {
  if (scope.type === 'system') return { projectId: null };
  if (scope.type === 'project') {
    const [project] = await tx.select({ id: projects.id }).from(projects).where(eq(projects.id, scope.id!));
    if (!project) throw ProblemError.validation([{ path: 'scope.id', message: `project '${scope.id}' does not exist` }]);
    return { projectId: project.id };
  }
  const [team] = await tx.select({ id: teams.id, projectId: teams.projectId }).from(teams).where(eq(teams.id, scope.id!));
  if (!team) throw ProblemError.validation([{ path: 'scope.id', message: `team '${scope.id}' does not exist` }]);
  return { projectId: team.projectId, teamId: team.id };
}

async function requireSubject(tx: Tx, subject: CreateRoleBinding['subject']): Promise<void> {
  const table = subject.type === 'user' ? operators : groups;
  const [row] = await tx.select({ id: table.id }).from(table).where(eq(table.id, subject.id));
  if (!row) throw ProblemError.validation([{ path: 'subject.id', message: `${subject.type} '${subject.id}' does not exist` }]);
}
