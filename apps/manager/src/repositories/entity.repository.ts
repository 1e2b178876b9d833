import { and, eq } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Database, Reads, Tx } from '../database/database';

type TableWithId = PgTable & { id: PgColumn };

/**
 * What every aggregate root's repository has: the row by id, and insert, update and delete by id.
 * Writes take the transaction of a ChangeWriter change, so each is audited with that change.
 */
export abstract class EntityRepository<T extends TableWithId> {
  protected constructor(
    protected readonly table: T,
    protected readonly database: Database,
  ) {}

  /** Reads in `db` (a change's transaction, to see its writes), locking the row when asked. */
  async findById(id: string, db: Reads = this.database.db, lock = false): Promise<T['$inferSelect'] | undefined> {
    // drizzle cannot resolve select/returning types over a generic table; the row is the table's own.
    const query = db
      .select()
      .from(this.table as PgTable)
      .where(eq(this.table.id, id));
    const [row] = (await (lock ? query.for('update') : query)) as T['$inferSelect'][];
    return row;
  }

  async insert(tx: Tx, values: T['$inferInsert']): Promise<T['$inferSelect']> {
    const [row] = await tx.insert(this.table).values(values).returning();
    return row as T['$inferSelect'];
  }

  async update(tx: Tx, id: string, values: Partial<T['$inferInsert']>): Promise<T['$inferSelect']> {
    const rows = (await tx.update(this.table).set(values).where(eq(this.table.id, id)).returning()) as unknown as T['$inferSelect'][];
    return rows[0];
  }

  /** The deleted row, or undefined when there was none. */
  async delete(tx: Tx, id: string): Promise<T['$inferSelect'] | undefined> {
    const [row] = await tx.delete(this.table).where(eq(this.table.id, id)).returning();
    return row as T['$inferSelect'] | undefined;
  }
}

/** An entity that belongs to a project: found by id only within its project. */
export abstract class ProjectEntityRepository<T extends TableWithId & { projectId: PgColumn }> extends EntityRepository<T> {
  async find(projectId: string, id: string, db: Reads = this.database.db, lock = false): Promise<T['$inferSelect'] | undefined> {
    const query = db
      .select()
      .from(this.table as PgTable)
      .where(and(eq(this.table.projectId, projectId), eq(this.table.id, id)));
    const [row] = (await (lock ? query.for('update') : query)) as T['$inferSelect'][];
    return row;
  }
}
