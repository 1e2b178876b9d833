import { Injectable } from '@nestjs/common';
import { and, asc, eq } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { groupMembers, groups } from '../database/schema';
import { EntityRepository } from './entity.repository';
import { groupBy } from './group-by';

export type GroupRow = typeof groups.$inferSelect;

/** Queries of the group aggregate: operator groups and their members. */
@Injectable()
export class GroupRepository extends EntityRepository<typeof groups> {
  constructor(database: Database) {
    super(groups, database);
  }

  /** Every group by name, with its members' operator ids. */
  async listWithMembers(): Promise<(GroupRow & { members: string[] })[]> {
    const db = this.database.db;
    const rows = await db.select().from(groups).orderBy(asc(groups.name));
    const members = groupBy(await db.select().from(groupMembers), (m) => m.groupId);
    return rows.map((g) => ({ ...g, members: (members.get(g.id) ?? []).map((m) => m.operatorId) }));
  }

  /** Whether the operator was added (false: already a member). */
  async addMember(tx: Tx, groupId: string, operatorId: string): Promise<boolean> {
    const inserted = await tx.insert(groupMembers).values({ groupId, operatorId }).onConflictDoNothing().returning();
    return inserted.length > 0;
  }

  /** Whether the operator was a member. */
  async removeMember(tx: Tx, groupId: string, operatorId: string): Promise<boolean> {
    const removed = await tx
      .delete(groupMembers)
      .where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.operatorId, operatorId)))
      .returning();
    return removed.length > 0;
  }
}
