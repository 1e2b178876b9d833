import { Injectable } from '@nestjs/common';
import type { CreateGroup, Group } from '@idm/domain';
import { and, asc, eq } from 'drizzle-orm';
import { ChangeWriter } from '../audit/change-writer';
import { Database } from '../database/database';
import { groupMembers, groups, operators, roleBindings } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';

const SYSTEM = { projectId: null };

/** Groups of users; a role bound to a group reaches every member. */
@Injectable()
export class GroupsService {
  constructor(
    private readonly database: Database,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async list(): Promise<Group[]> {
    this.permissions.checkAnywhere('user:read');
    const db = this.database.db;
    const rows = await db.select().from(groups).orderBy(asc(groups.name));
    const members = await db.select({ groupId: groupMembers.groupId, userId: groupMembers.operatorId }).from(groupMembers);
    return rows.map((g) => ({ id: g.id, name: g.name, description: g.description, members: members.filter((m) => m.groupId === g.id).map((m) => m.userId) }));
  }

  create(input: CreateGroup) {
    this.permissions.check('user:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const [row] = await tx.insert(groups).values(input).returning();
      return { result: { id: row.id, name: row.name, description: row.description, members: [] }, change: { action: 'create', entityKind: 'group', entityId: row.id, projectId: null, before: null, after: row } };
    });
  }

  async remove(id: string): Promise<void> {
    this.permissions.check('user:write', SYSTEM);
    await this.changes.write(async (tx) => {
      const [before] = await tx.delete(groups).where(eq(groups.id, id)).returning();
      if (!before) throw ProblemError.notFound('group', id);
      await tx.delete(roleBindings).where(eq(roleBindings.subjectId, id));
      return { result: undefined, change: { action: 'delete', entityKind: 'group', entityId: id, projectId: null, before, after: null } };
    });
  }

  addMember(groupId: string, userId: string): Promise<void> {
    this.permissions.check('user:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const [group] = await tx.select().from(groups).where(eq(groups.id, groupId));
      if (!group) throw ProblemError.notFound('group', groupId);
      const [user] = await tx.select({ id: operators.id }).from(operators).where(eq(operators.id, userId));
      if (!user) throw ProblemError.validation([{ path: 'userId', message: `user '${userId}' does not exist` }]);
      const inserted = await tx.insert(groupMembers).values({ groupId, operatorId: userId }).onConflictDoNothing().returning();
      return { result: undefined, change: inserted.length ? { action: 'update', entityKind: 'group', entityId: groupId, projectId: null, before: { addedMember: null }, after: { addedMember: userId } } : null };
    });
  }

  removeMember(groupId: string, userId: string): Promise<void> {
    this.permissions.check('user:write', SYSTEM);
    return this.changes.write(async (tx) => {
      const [row] = await tx.delete(groupMembers).where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.operatorId, userId))).returning();
      if (!row) throw ProblemError.notFound('group_member', userId);
      return { result: undefined, change: { action: 'update', entityKind: 'group', entityId: groupId, projectId: null, before: { removedMember: null }, after: { removedMember: userId } } };
    });
  }
}
