import { Injectable } from '@nestjs/common';
import type { CreateProject, Project, UpdateProject } from '@idm/domain';
import { asc, eq, inArray } from 'drizzle-orm';
import { ChangeWriter } from '../audit/change-writer';
import { Database } from '../database/database';
import { projects } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';

type Row = typeof projects.$inferSelect;
const toProject = (r: Row): Project => ({
  id: r.id,
  name: r.name,
  description: r.description,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

@Injectable()
export class ProjectsService {
  constructor(
    private readonly database: Database,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  /** Only the projects the actor can read (through a project or team grant), filtered in SQL. */
  async list(): Promise<Project[]> {
    const scope = this.permissions.projectsWith('project:read');
    if (!scope.all && scope.projectIds.length === 0) return [];
    const query = this.database.db.select().from(projects);
    const rows = await (scope.all ? query : query.where(inArray(projects.id, scope.projectIds))).orderBy(asc(projects.name));
    return rows.map(toProject);
  }

  async get(id: string): Promise<Project> {
    this.permissions.check('project:read', { projectId: id });
    const [row] = await this.database.db.select().from(projects).where(eq(projects.id, id));
    if (!row) throw ProblemError.notFound('project', id);
    return toProject(row);
  }

  create(input: CreateProject): Promise<Project> {
    this.permissions.check('project:create', { projectId: null });
    return this.changes.write(async (tx) => {
      const [row] = await tx.insert(projects).values(input).returning();
      return { result: toProject(row), change: { action: 'create', entityKind: 'project', entityId: row.id, projectId: row.id, before: null, after: row } };
    });
  }

  update(id: string, input: UpdateProject): Promise<Project> {
    this.permissions.check('project:write', { projectId: id });
    return this.changes.write(async (tx) => {
      const [before] = await tx.select().from(projects).where(eq(projects.id, id)).for('update');
      if (!before) throw ProblemError.notFound('project', id);
      const [row] = await tx.update(projects).set({ ...input, updatedAt: new Date() }).where(eq(projects.id, id)).returning();
      return { result: toProject(row), change: { action: 'update', entityKind: 'project', entityId: id, projectId: id, before, after: row } };
    });
  }

  /** Cascades to the project's teams, proxies and credentials (foreign keys). */
  async remove(id: string): Promise<void> {
    this.permissions.check('project:delete', { projectId: id });
    await this.changes.write(async (tx) => {
      const [before] = await tx.delete(projects).where(eq(projects.id, id)).returning();
      if (!before) throw ProblemError.notFound('project', id);
      return { result: undefined, change: { action: 'delete', entityKind: 'project', entityId: id, projectId: id, before, after: null } };
    });
  }
}
