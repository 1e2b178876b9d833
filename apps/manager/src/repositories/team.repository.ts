import { Injectable } from '@nestjs/common';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { apiProxies, credentials, projectSecrets, teams } from '../database/schema';
import { ProjectEntityRepository } from './entity.repository';

export type TeamRow = typeof teams.$inferSelect;

/** Queries of the team aggregate. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class TeamRepository extends ProjectEntityRepository<typeof teams> {
  constructor(database: Database) {
    super(teams, database);
  }

  /** The project's teams (all, or only `ids`), by name. */
  list(projectId: string, ids: string[] | 'all'): Promise<TeamRow[]> {
    const inProject = eq(teams.projectId, projectId);
    return this.database.db
      .select()
      .from(teams)
      .where(ids === 'all' ? inProject : and(inProject, inArray(teams.id, ids)))
      .orderBy(asc(teams.name));
  }

  /** Which of `ids` are teams of the project, read in `db`. */
  async idsInProject(db: Reads, projectId: string, ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await db
      .select({ id: teams.id })
      .from(teams)
      .where(and(eq(teams.projectId, projectId), inArray(teams.id, ids)));
    return new Set(rows.map((t) => t.id));
  }

  /** Whether any proxy, credential or project secret still belongs to the team. */
  async ownsAnything(tx: Tx, id: string): Promise<boolean> {
    const [owned] = await tx
      .select({ id: apiProxies.id })
      .from(apiProxies)
      .where(eq(apiProxies.teamId, id))
      .union(tx.select({ id: credentials.id }).from(credentials).where(eq(credentials.teamId, id)))
      .union(tx.select({ id: projectSecrets.id }).from(projectSecrets).where(eq(projectSecrets.teamId, id)))
      .limit(1);
    return !!owned;
  }
}

/** Whether the team exists in the project, read in `db` (plain for the same reason as `projectExists`). */
export async function teamInProject(db: Reads, projectId: string, teamId: string): Promise<boolean> {
  const [team] = await db
    .select({ id: teams.id })
    .from(teams)
    .where(and(eq(teams.id, teamId), eq(teams.projectId, projectId)));
  return !!team;
}
