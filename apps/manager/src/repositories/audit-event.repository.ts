import { Injectable } from '@nestjs/common';
import type { AuditQuery, ReadFilter } from '@idm/domain';
import { and, desc, eq, gte, inArray, lt, lte, or, type SQL } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { auditEvents } from '../database/schema';

export type AuditEventRow = typeof auditEvents.$inferSelect;
export type NewAuditEventRow = typeof auditEvents.$inferInsert;

/** The audit trail: appended in each change's transaction, read newest first. */
@Injectable()
export class AuditEventRepository {
  constructor(private readonly database: Database) {}

  async append(tx: Tx, values: NewAuditEventRow): Promise<AuditEventRow> {
    const [event] = await tx.insert(auditEvents).values(values).returning();
    return event;
  }

  /** One event by its sequence number (another Manager announced it), null when this database has none. */
  async bySeq(seq: number): Promise<AuditEventRow | null> {
    const [event] = await this.database.db.select().from(auditEvents).where(eq(auditEvents.seq, seq));
    return event ?? null;
  }

  /** Up to `limit` events matching the query within the reader's `scope`, newest first. */
  page(scope: ReadFilter, q: Omit<AuditQuery, 'limit'>, limit: number): Promise<AuditEventRow[]> {
    const conditions: (SQL | undefined)[] = [
      scope.all
        ? undefined
        : or(
            scope.projectIds.length ? inArray(auditEvents.projectId, scope.projectIds) : undefined,
            scope.teams.length
              ? inArray(
                  auditEvents.teamId,
                  scope.teams.map((t) => t.id),
                )
              : undefined,
          ),
      q.from ? gte(auditEvents.at, new Date(q.from)) : undefined,
      q.to ? lte(auditEvents.at, new Date(q.to)) : undefined,
      q.actorId ? eq(auditEvents.actorId, q.actorId) : undefined,
      q.projectId ? eq(auditEvents.projectId, q.projectId) : undefined,
      q.entityKind ? eq(auditEvents.entityKind, q.entityKind) : undefined,
      q.entityId ? eq(auditEvents.entityId, q.entityId) : undefined,
      q.action ? eq(auditEvents.action, q.action) : undefined,
      q.cursor ? lt(auditEvents.seq, Number(q.cursor)) : undefined,
    ];
    return this.database.db
      .select()
      .from(auditEvents)
      .where(and(...conditions))
      .orderBy(desc(auditEvents.seq))
      .limit(limit);
  }
}
