import { Injectable } from '@nestjs/common';
import type { CreateTeam, Team, UpdateTeam } from '@idm/domain';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { ChangeWriter } from '../audit/change-writer';
import { Database, type Tx } from '../database/database';
import { apiProxies, credentials, teams } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';

type Row = typeof teams.$inferSelect;
const toTeam = (r: Row): Team => ({ id: r.id, projectId: r.projectId, name: r.name, description: r.description, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() });

@Injectable()
export class TeamsService {
  constructor(
    private readonly database: Database,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async list(projectId: string) {
    const filter = this.permissions.readFilter('team:read');
    const inProject = eq(teams.projectId, projectId);
    const whole = filter.all || filter.projectIds.includes(projectId);
    const teamIds = filter.teams.filter((t) => t.projectId === projectId).map((t) => t.id);
    if (!whole && teamIds.length === 0) this.permissions.check('team:read', { projectId });
    await requireProject(this.database.db, projectId);
    const rows = await this.database.db.select().from(teams).where(whole ? inProject : and(inProject, inArray(teams.id, teamIds))).orderBy(asc(teams.name));
    return rows.map(toTeam);
  }

  async get(projectId: string, id: string) {
    const row = await this.find(this.database.db, projectId, id);
    this.permissions.check('team:read', { projectId, teamId: id });
    return toTeam(row);
  }

  create(projectId: string, input: CreateTeam) {
    this.permissions.check('team:write', { projectId });
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      const [row] = await tx.insert(teams).values({ ...input, projectId }).returning();
      return { result: toTeam(row), change: { action: 'create', entityKind: 'team', entityId: row.id, projectId, teamId: row.id, before: null, after: row } };
    });
  }

  update(projectId: string, id: string, input: UpdateTeam) {
    this.permissions.check('team:write', { projectId });
    return this.changes.write(async (tx) => {
      const before = await this.find(tx, projectId, id);
      const [row] = await tx.update(teams).set({ ...input, updatedAt: new Date() }).where(eq(teams.id, id)).returning();
      return { result: toTeam(row), change: { action: 'update', entityKind: 'team', entityId: id, projectId, teamId: id, before, after: row } };
    });
  }

  /** Refused while proxies or credentials still belong to the team. */
  async remove(projectId: string, id: string): Promise<void> {
    this.permissions.check('team:write', { projectId });
    await this.changes.write(async (tx) => {
      const before = await this.find(tx, projectId, id);
      const [owned] = await tx
        .select({ id: apiProxies.id })
        .from(apiProxies)
        .where(eq(apiProxies.teamId, id))
        .union(tx.select({ id: credentials.id }).from(credentials).where(eq(credentials.teamId, id)))
        .limit(1);
      if (owned) throw ProblemError.conflict('team_not_empty', 'proxies or credentials still belong to this team');
      await tx.delete(teams).where(eq(teams.id, id));
      return { result: undefined, change: { action: 'delete', entityKind: 'team', entityId: id, projectId, teamId: id, before, after: null } };
    });
  }

  private async find(db: Pick<Tx, 'select'>, projectId: string, id: string): Promise<Row> {
    const [row] = await db.select().from(teams).where(and(eq(teams.projectId, projectId), eq(teams.id, id)));
    if (!row) {
      this.permissions.check('team:read', { projectId });
      throw ProblemError.notFound('team', id);
    }
    return row;
  }
}
