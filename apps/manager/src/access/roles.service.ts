import { Injectable } from '@nestjs/common';
import type { CreateRole, CreateRoleBinding, EntityLocation, Role, RoleBinding, UpdateRole } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import type { Tx } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { GroupRepository } from '../repositories/group.repository';
import { OperatorRepository } from '../repositories/operator.repository';
import { ProjectRepository } from '../repositories/project.repository';
import { RoleBindingRepository, type RoleBindingRow } from '../repositories/role-binding.repository';
import { RoleRepository, type RoleRow } from '../repositories/role.repository';
import { TeamRepository } from '../repositories/team.repository';

const toRole = (r: RoleRow): Role => ({ id: r.id, name: r.name, description: r.description, builtIn: r.builtIn, permissions: r.permissions });
const toBinding = (b: RoleBindingRow): RoleBinding => ({
  id: b.id,
  roleId: b.roleId,
  subject: { type: b.subjectType, id: b.subjectId },
  scope: { type: b.scopeType, id: b.scopeId },
  projectId: b.projectId,
  createdAt: b.createdAt.toISOString(),
});
const SYSTEM = { projectId: null };

/** Custom roles and role bindings. Nobody can grant a permission they do not hold at that scope. */
@Injectable()
export class RolesService {
  constructor(
    private readonly roles: RoleRepository,
    private readonly bindings: RoleBindingRepository,
    private readonly projects: ProjectRepository,
    private readonly teams: TeamRepository,
    private readonly operators: OperatorRepository,
    private readonly groups: GroupRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async listRoles() {
    this.permissions.checkAnywhere('role:read');
    return (await this.roles.list()).map(toRole);
  }

  createRole(input: CreateRole) {
    this.permissions.check('role:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const row = await this.roles.insert(tx, { ...input, permissions: [...new Set(input.permissions)] });
      return { result: toRole(row), change: { action: 'create', entityKind: 'role', entityId: row.id, projectId: null, before: null, after: row } };
    });
  }

  updateRole(id: string, input: UpdateRole) {
    this.permissions.check('role:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const before = await this.customRole(tx, id);
      const row = await this.roles.update(tx, id, { ...input, ...(input.permissions ? { permissions: [...new Set(input.permissions)] } : {}), updatedAt: new Date() });
      return { result: toRole(row), change: { action: 'update', entityKind: 'role', entityId: id, projectId: null, before, after: row } };
    });
  }

  async removeRole(id: string): Promise<void> {
    this.permissions.check('role:write', SYSTEM);
    await this.changes.write(async (tx) => {
      const before = await this.customRole(tx, id);
      await this.roles.delete(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'role', entityId: id, projectId: null, before, after: null } };
    });
  }

  /** Bindings at scopes the actor may read roles in (system readers see all), filtered in SQL. */
  async listBindings() {
    this.permissions.checkAnywhere('role:read');
    const scope = this.permissions.projectsWith('role:read');
    return (await this.bindings.list(scope.all ? 'all' : scope.projectIds)).map(toBinding);
  }

  createBinding(input: CreateRoleBinding) {
    return this.changes.write(async (tx) => {
      const role = await this.roles.findById(input.roleId, tx);
      if (!role) throw ProblemError.validation([{ path: 'roleId', message: `role '${input.roleId}' does not exist` }]);
      const target = await this.resolveScope(tx, input.scope);
      this.permissions.check('role:bind', target);
      const missing = role.permissions.filter((p) => !this.permissions.can(p, target));
      if (missing.length) {
        throw new ProblemError(
          403,
          'escalation_denied',
          'Permission escalation denied',
          `granting '${role.name}' needs permissions you do not hold at that scope: ${missing.join(', ')}`,
          undefined,
          { missingPermissions: missing },
        );
      }
      await this.requireSubject(tx, input.subject);
      const row = await this.bindings.insert(tx, {
        roleId: role.id,
        subjectType: input.subject.type,
        subjectId: input.subject.id,
        scopeType: input.scope.type,
        scopeId: input.scope.id,
        projectId: target.projectId,
      });
      return {
        result: toBinding(row),
        change: {
          action: 'create',
          entityKind: 'role_binding',
          entityId: row.id,
          projectId: target.projectId,
          teamId: target.teamId ?? null,
          before: null,
          after: { ...row, roleName: role.name },
        },
      };
    });
  }

  removeBinding(id: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const binding = await this.bindings.findById(id, tx);
      if (!binding) throw ProblemError.notFound('role_binding', id);
      const target = { projectId: binding.projectId, teamId: binding.scopeType === 'team' ? binding.scopeId : undefined };
      this.permissions.check('role:bind', target);
      await this.bindings.delete(tx, id);
      return {
        result: undefined,
        change: { action: 'delete', entityKind: 'role_binding', entityId: id, projectId: binding.projectId, teamId: target.teamId ?? null, before: binding, after: null },
      };
    });
  }

  private async customRole(tx: Tx, id: string): Promise<RoleRow> {
    const row = await this.roles.findById(id, tx, true);
    if (!row) throw ProblemError.notFound('role', id);
    if (row.builtIn) throw ProblemError.conflict('built_in_role', 'built-in roles cannot be changed or deleted');
    return row;
  }

  private async resolveScope(tx: Tx, scope: CreateRoleBinding['scope']): Promise<EntityLocation> {
    if (scope.type === 'system') return { projectId: null };
    if (scope.type === 'project') {
      const project = await this.projects.findById(scope.id!, tx);
      if (!project) throw ProblemError.validation([{ path: 'scope.id', message: `project '${scope.id}' does not exist` }]);
      return { projectId: project.id };
    }
    const team = await this.teams.findById(scope.id!, tx);
    if (!team) throw ProblemError.validation([{ path: 'scope.id', message: `team '${scope.id}' does not exist` }]);
    return { projectId: team.projectId, teamId: team.id };
  }

  private async requireSubject(tx: Tx, subject: CreateRoleBinding['subject']): Promise<void> {
    const row = await (subject.type === 'user' ? this.operators : this.groups).findById(subject.id, tx);
    if (!row) throw ProblemError.validation([{ path: 'subject.id', message: `${subject.type} '${subject.id}' does not exist` }]);
  }
}
