import { Injectable } from '@nestjs/common';
import type { CreateGroup, Group } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { GroupRepository } from '../repositories/group.repository';
import { OperatorRepository } from '../repositories/operator.repository';
import { RoleBindingRepository } from '../repositories/role-binding.repository';

const SYSTEM = { projectId: null };

/** Groups of users; a role bound to a group reaches every member. */
@Injectable()
export class GroupsService {
  constructor(
    private readonly groups: GroupRepository,
    private readonly operators: OperatorRepository,
    private readonly bindings: RoleBindingRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async list(): Promise<Group[]> {
    this.permissions.checkAnywhere('user:read');
    return (await this.groups.listWithMembers()).map((g) => ({ id: g.id, name: g.name, description: g.description, members: g.members }));
  }

  create(input: CreateGroup) {
    this.permissions.check('user:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const row = await this.groups.insert(tx, input);
      return {
        result: { id: row.id, name: row.name, description: row.description, members: [] },
        change: { action: 'create', entityKind: 'group', entityId: row.id, projectId: null, before: null, after: row },
      };
    });
  }

  async remove(id: string): Promise<void> {
    this.permissions.check('user:write', SYSTEM);
    await this.changes.write(async (tx) => {
      const before = await this.groups.delete(tx, id);
      if (!before) throw ProblemError.notFound('group', id);
      await this.bindings.deleteForSubject(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'group', entityId: id, projectId: null, before, after: null } };
    });
  }

  addMember(groupId: string, userId: string): Promise<void> {
    this.permissions.check('user:write', SYSTEM);
    return this.changes.write(async (tx) => {
      if (!(await this.groups.findById(groupId, tx))) throw ProblemError.notFound('group', groupId);
      if (!(await this.operators.findById(userId, tx))) throw ProblemError.validation([{ path: 'userId', message: `user '${userId}' does not exist` }]);
      const added = await this.groups.addMember(tx, groupId, userId);
      return {
        result: undefined,
        change: added ? { action: 'update', entityKind: 'group', entityId: groupId, projectId: null, before: { addedMember: null }, after: { addedMember: userId } } : null,
      };
    });
  }

  removeMember(groupId: string, userId: string): Promise<void> {
    this.permissions.check('user:write', SYSTEM);
    return this.changes.write(async (tx) => {
      if (!(await this.groups.removeMember(tx, groupId, userId))) throw ProblemError.notFound('group_member', userId);
      return {
        result: undefined,
        change: { action: 'update', entityKind: 'group', entityId: groupId, projectId: null, before: { removedMember: null }, after: { removedMember: userId } },
      };
    });
  }
}
