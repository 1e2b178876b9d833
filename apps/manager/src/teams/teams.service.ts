import { Injectable } from '@nestjs/common';
import type { CreateTeam, Team, UpdateTeam } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { Database, type Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { TeamRepository, type TeamRow } from '../repositories/team.repository';

type Row = TeamRow;
const toTeam = (r: Row): Team => ({
  id: r.id,
  projectId: r.projectId,
  name: r.name,
  description: r.description,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

@Injectable()
export class TeamsService {
  constructor(
    private readonly database: Database,
    private readonly teams: TeamRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async list(projectId: string) {
    const filter = this.permissions.readFilter('team:read');
    const whole = filter.all || filter.projectIds.includes(projectId);
    const teamIds = filter.teams.filter((t) => t.projectId === projectId).map((t) => t.id);
    if (!whole && teamIds.length === 0) this.permissions.check('team:read', { projectId });
    await requireProject(this.database.db, projectId);
    return (await this.teams.list(projectId, whole ? 'all' : teamIds)).map(toTeam);
  }

  async get(projectId: string, id: string) {
    const row = await this.find(projectId, id);
    this.permissions.check('team:read', { projectId, teamId: id });
    return toTeam(row);
  }

  create(projectId: string, input: CreateTeam) {
    this.permissions.check('team:write', { projectId });
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      const row = await this.teams.insert(tx, { ...input, projectId });
      return { result: toTeam(row), change: { action: 'create', entityKind: 'team', entityId: row.id, projectId, teamId: row.id, before: null, after: row } };
    });
  }

  update(projectId: string, id: string, input: UpdateTeam) {
    this.permissions.check('team:write', { projectId });
    return this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx);
      const row = await this.teams.update(tx, id, { ...input, updatedAt: new Date() });
      return { result: toTeam(row), change: { action: 'update', entityKind: 'team', entityId: id, projectId, teamId: id, before, after: row } };
    });
  }

  /** Refused while proxies or credentials still belong to the team. */
  async remove(projectId: string, id: string): Promise<void> {
    this.permissions.check('team:write', { projectId });
    await this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx);
      if (await this.teams.ownsAnything(tx, id)) throw ProblemError.conflict('team_not_empty', 'proxies or credentials still belong to this team');
      await this.teams.delete(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'team', entityId: id, projectId, teamId: id, before, after: null } };
    });
  }

  private async find(projectId: string, id: string, db?: Reads): Promise<Row> {
    const row = await this.teams.find(projectId, id, db);
    if (!row) {
      this.permissions.check('team:read', { projectId });
      throw ProblemError.notFound('team', id);
    }
    return row;
  }
}
