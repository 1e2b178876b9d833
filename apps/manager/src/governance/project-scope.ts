import { and, eq, inArray, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { ReadFilter } from '@idm/domain';
import type { Tx } from '../database/database';
import { projects, teams } from '../database/schema';
import { ProblemError } from '../problems/problem.error';

/**
 * The SQL condition for "rows of this project the actor may read": all of them with a project or
 * system grant, only their teams' rows with team grants, none otherwise (null = deny the list).
 */
export function projectRowsFilter(filter: ReadFilter, projectId: string, columns: { projectId: AnyPgColumn; teamId: AnyPgColumn }): SQL | null {
  const inProject = eq(columns.projectId, projectId);
  if (filter.all || filter.projectIds.includes(projectId)) return inProject;
  const teamIds = filter.teams.filter((t) => t.projectId === projectId).map((t) => t.id);
  if (teamIds.length === 0) return null;
  return and(inProject, inArray(columns.teamId, teamIds))!;
}

/** A team named on an entity must belong to the entity's project. */
export async function requireTeamInProject(tx: Pick<Tx, 'select'>, projectId: string, teamId: string | null | undefined): Promise<void> {
  if (!teamId) return;
  const [team] = await tx.select({ id: teams.id }).from(teams).where(and(eq(teams.id, teamId), eq(teams.projectId, projectId)));
  if (!team) throw ProblemError.validation([{ path: 'teamId', message: `team '${teamId}' does not exist in this project` }]);
}


export async function requireProject(db: Pick<Tx, 'select'>, projectId: string): Promise<void> {
  const [row] = await db.select({ id: projects.id }).from(projects).where(eq(projects.id, projectId));
  if (!row) throw ProblemError.notFound('project', projectId);
}
