import { Injectable } from '@nestjs/common';
import { asc, eq, inArray } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { projects } from '../database/schema';
import { EntityWrites } from './entity-writes';

export type ProjectRow = typeof projects.$inferSelect;

/** Queries of the project aggregate. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class ProjectRepository extends EntityWrites<typeof projects> {
  constructor(private readonly database: Database) {
    super(projects);
  }

  /** All projects (`ids` = 'all') or the given ones, by name. */
  list(ids: string[] | 'all'): Promise<ProjectRow[]> {
    const query = this.database.db.select().from(projects);
    return (ids === 'all' ? query : query.where(inArray(projects.id, ids))).orderBy(asc(projects.name));
  }

  async find(id: string): Promise<ProjectRow | undefined> {
    const [row] = await this.database.db.select().from(projects).where(eq(projects.id, id));
    return row;
  }

  async lock(tx: Tx, id: string): Promise<ProjectRow | undefined> {
    const [row] = await tx.select().from(projects).where(eq(projects.id, id)).for('update');
    return row;
  }
}
