import { and, eq, inArray, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { ReadFilter } from '@idm/domain';

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
