import { Injectable } from '@nestjs/common';
import { asc, eq, inArray } from 'drizzle-orm';
import { Database, type Reads } from '../database/database';
import { projects } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type ProjectRow = typeof projects.$inferSelect;

/** Queries of the project aggregate. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class ProjectRepository extends EntityRepository<typeof projects> {
  constructor(database: Database) {
    super(projects, database);
  }

  /** All projects (`ids` = 'all') or the given ones, by name. */
  list(ids: string[] | 'all'): Promise<ProjectRow[]> {
    const query = this.database.db.select().from(projects);
    return (ids === 'all' ? query : query.where(inArray(projects.id, ids))).orderBy(asc(projects.name));
  }

  async findByName(name: string): Promise<ProjectRow | undefined> {
    const [row] = await this.database.db.select().from(projects).where(eq(projects.name, name));
    return row;
  }
}

/**
 * Whether the project exists, read in `db` (a change's transaction, or the database). A plain
 * function so the guards in governance/project-scope.ts stay plain functions for their callers.
 */
export async function projectExists(db: Reads, id: string): Promise<boolean> {
  const [row] = await db.select({ id: projects.id }).from(projects).where(eq(projects.id, id));
  return !!row;
}
