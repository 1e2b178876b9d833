import { Injectable } from '@nestjs/common';
import type { CreateProject, Project, UpdateProject } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { ProjectRepository, type ProjectRow } from '../repositories/project.repository';

type Row = ProjectRow;
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
    private readonly projects: ProjectRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  /** Only the projects the actor can read (through a project or team grant), filtered in SQL. */
  async list(): Promise<Project[]> {
    const scope = this.permissions.projectsWith('project:read');
    if (!scope.all && scope.projectIds.length === 0) return [];
    return (await this.projects.list(scope.all ? 'all' : scope.projectIds)).map(toProject);
  }

  async get(id: string): Promise<Project> {
    this.permissions.check('project:read', { projectId: id });
    const row = await this.projects.findById(id);
    if (!row) throw ProblemError.notFound('project', id);
    return toProject(row);
  }

  create(input: CreateProject): Promise<Project> {
    this.permissions.check('project:create', { projectId: null });
    return this.changes.write(async (tx) => {
      const row = await this.projects.insert(tx, input);
      return { result: toProject(row), change: { action: 'create', entityKind: 'project', entityId: row.id, projectId: row.id, before: null, after: row } };
    });
  }

  update(id: string, input: UpdateProject): Promise<Project> {
    this.permissions.check('project:write', { projectId: id });
    return this.changes.write(async (tx) => {
      const before = await this.projects.findById(id, tx, true);
      if (!before) throw ProblemError.notFound('project', id);
      const row = await this.projects.update(tx, id, { ...input, updatedAt: new Date() });
      return { result: toProject(row), change: { action: 'update', entityKind: 'project', entityId: id, projectId: id, before, after: row } };
    });
  }

  /** Cascades to the project's teams, proxies and credentials (foreign keys). */
  async remove(id: string): Promise<void> {
    this.permissions.check('project:delete', { projectId: id });
    await this.changes.write(async (tx) => {
      const before = await this.projects.delete(tx, id);
      if (!before) throw ProblemError.notFound('project', id);
      return { result: undefined, change: { action: 'delete', entityKind: 'project', entityId: id, projectId: id, before, after: null } };
    });
  }
}
