import { Injectable } from '@nestjs/common';
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { roleBindings } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type RoleBindingRow = typeof roleBindings.$inferSelect;

/** Queries of role bindings (a role granted to a user or group at a scope). */
@Injectable()
export class RoleBindingRepository extends EntityRepository<typeof roleBindings> {
  constructor(database: Database) {
    super(roleBindings, database);
  }

  /** All bindings, or those of the given projects, oldest first. */
  list(projectIds: string[] | 'all'): Promise<RoleBindingRow[]> {
    const query = this.database.db.select().from(roleBindings);
    // inArray over an empty list is not valid SQL; the nil UUID matches no project.
    const filtered = projectIds === 'all' ? query : query.where(inArray(roleBindings.projectId, projectIds.length ? projectIds : ['00000000-0000-0000-0000-000000000000']));
    return filtered.orderBy(asc(roleBindings.createdAt));
  }

  /** Drops every binding of a deleted user or group (subject ids are not foreign keys). */
  async deleteForSubject(tx: Tx, subjectId: string): Promise<void> {
    await tx.delete(roleBindings).where(eq(roleBindings.subjectId, subjectId));
  }

  /** A user's own bindings (not those of their groups), locked: what a federated operator's login replaces. */
  ofUser(tx: Tx, operatorId: string): Promise<RoleBindingRow[]> {
    return tx
      .select()
      .from(roleBindings)
      .where(and(eq(roleBindings.subjectType, 'user'), eq(roleBindings.subjectId, operatorId)))
      .orderBy(asc(roleBindings.createdAt))
      .for('update');
  }

  async deleteByIds(tx: Tx, ids: string[]): Promise<void> {
    if (ids.length > 0) await tx.delete(roleBindings).where(inArray(roleBindings.id, ids));
  }

  /** Binds the role to the user at system scope unless it already is; whether it already was. */
  async ensureSystemBinding(tx: Tx, roleId: string, operatorId: string): Promise<boolean> {
    const [bound] = await tx
      .select({ id: roleBindings.id })
      .from(roleBindings)
      .where(and(eq(roleBindings.roleId, roleId), eq(roleBindings.subjectId, operatorId), eq(roleBindings.scopeType, 'system'), isNull(roleBindings.scopeId)));
    if (!bound) await tx.insert(roleBindings).values({ roleId, subjectType: 'user', subjectId: operatorId, scopeType: 'system' });
    return !!bound;
  }
}
