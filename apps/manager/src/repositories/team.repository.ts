import { Injectable } from '@nestjs/common';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { apiProxies, credentials, teams } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type TeamRow = typeof teams.$inferSelect;

/** Queries of the team aggregate. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class TeamRepository extends EntityRepository<typeof teams> {
  constructor(database: Database) {
    super(teams, database);
  }

  /** The project's teams (all, or only `ids`), by name. */
  list(projectId: string, ids: string[] | 'all'): Promise<TeamRow[]> {
    const inProject = eq(teams.projectId, projectId);
    return this.database.db.select().from(teams).where(ids === 'all' ? inProject : and(inProject, inArray(teams.id, ids))).orderBy(asc(teams.name));
  }

  async find(projectId: string, id: string, db: Reads = this.database.db): Promise<TeamRow | undefined> {
    const [row] = await db.select().from(teams).where(and(eq(teams.projectId, projectId), eq(teams.id, id)));
    return row;
  }

  /** Whether any proxy or credential still belongs to the team. */
  async ownsAnything(tx: Tx, id: string): Promise<boolean> {
    const [owned] = await tx
      .select({ id: apiProxies.id })
      .from(apiProxies)
      .where(eq(apiProxies.teamId, id))
      .union(tx.select({ id: credentials.id }).from(credentials).where(eq(credentials.teamId, id)))
      .limit(1);
    return !!owned;
  }
}
