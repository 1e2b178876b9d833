import { Injectable } from '@nestjs/common';
import type { Grant } from '@idm/domain';
import { and, eq, inArray, or } from 'drizzle-orm';
import { Database } from '../database/database';
import { groupMembers, roleBindings, roles } from '../database/schema';

/** Loads what a user may do: role bindings held directly or through a group. */
@Injectable()
export class GrantRepository {
  constructor(private readonly database: Database) {}

  async grantsOf(operatorId: string): Promise<Grant[]> {
    const db = this.database.db;
    const groupIds = db.select({ id: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.operatorId, operatorId));
    const rows = await db
      .select({ role: roles.name, permissions: roles.permissions, scopeType: roleBindings.scopeType, scopeId: roleBindings.scopeId, projectId: roleBindings.projectId })
      .from(roleBindings)
      .innerJoin(roles, eq(roles.id, roleBindings.roleId))
      .where(
        or(
          and(eq(roleBindings.subjectType, 'user'), eq(roleBindings.subjectId, operatorId)),
          and(eq(roleBindings.subjectType, 'group'), inArray(roleBindings.subjectId, groupIds)),
        ),
      );
    return rows.map((r) => ({
      role: r.role,
      permissions: new Set(r.permissions),
      scope: { type: r.scopeType, id: r.scopeId },
      projectId: r.scopeType === 'project' ? r.scopeId : r.projectId,
    }));
  }
}
