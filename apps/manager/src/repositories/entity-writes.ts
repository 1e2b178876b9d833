import { eq } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Tx } from '../database/database';

type TableWithId = PgTable & { id: PgColumn };

/**
 * The single-row writes every aggregate root has: insert, update and delete by id. They take the
 * transaction of a ChangeWriter change, so each is audited with that change.
 */
export abstract class EntityWrites<T extends TableWithId> {
  protected constructor(private readonly table: T) {}

  async insert(tx: Tx, values: T['$inferInsert']): Promise<T['$inferSelect']> {
    const [row] = await tx.insert(this.table).values(values).returning();
    return row as T['$inferSelect'];
  }

  async update(tx: Tx, id: string, values: Partial<T['$inferInsert']>): Promise<T['$inferSelect']> {
    // drizzle cannot resolve `returning()` over a generic table; the row is the table's own.
    const rows = (await tx.update(this.table).set(values).where(eq(this.table.id, id)).returning()) as unknown as T['$inferSelect'][];
    return rows[0];
  }

  /** The deleted row, or undefined when there was none. */
  async delete(tx: Tx, id: string): Promise<T['$inferSelect'] | undefined> {
    const [row] = await tx.delete(this.table).where(eq(this.table.id, id)).returning();
    return row as T['$inferSelect'] | undefined;
  }
}
