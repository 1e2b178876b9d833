import type { Reads } from '../database/database';
import { ProblemError } from '../problems/problem.error';
import { projectExists } from '../repositories/project.repository';
import { teamInProject } from '../repositories/team.repository';

// The read filter's SQL is built beside the queries that use it; re-exported for its callers here.
export { projectRowsFilter } from '../repositories/project-rows-filter';

/** A team named on an entity must belong to the entity's project. */
export async function requireTeamInProject(db: Reads, projectId: string, teamId: string | null | undefined): Promise<void> {
  if (!teamId) return;
  if (!(await teamInProject(db, projectId, teamId))) throw ProblemError.validation([{ path: 'teamId', message: `team '${teamId}' does not exist in this project` }]);
}

export async function requireProject(db: Reads, projectId: string): Promise<void> {
  if (!(await projectExists(db, projectId))) throw ProblemError.notFound('project', projectId);
}
