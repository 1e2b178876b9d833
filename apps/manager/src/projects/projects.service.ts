import { Injectable } from '@nestjs/common';
import type { CreateProject, Project, UpdateProject } from '@idm/domain';
import { asc, eq } from 'drizzle-orm';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { Database } from '../database/database';
import { projects } from '../database/schema';
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
    private readonly publisher: ConfigPublisher,
  ) {}

  async list(): Promise<Project[]> {
    return (await this.database.db.select().from(projects).orderBy(asc(projects.name))).map(toProject);
  }

  async get(id: string): Promise<Project> {
    const [row] = await this.database.db.select().from(projects).where(eq(projects.id, id));
    if (!row) throw ProblemError.notFound('project', id);
    return toProject(row);
  }

  async create(input: CreateProject): Promise<Project> {
    const [row] = await this.database.db.insert(projects).values(input).returning();
    return toProject(row);
  }

  async update(id: string, input: UpdateProject): Promise<Project> {
    const [row] = await this.database.db.update(projects).set({ ...input, updatedAt: new Date() }).where(eq(projects.id, id)).returning();
    if (!row) throw ProblemError.notFound('project', id);
    return toProject(row);
  }

  /** Cascades to the project's proxies and credentials (foreign keys), then republishes. */
  async remove(id: string): Promise<void> {
    const [row] = await this.database.db.delete(projects).where(eq(projects.id, id)).returning();
    if (!row) throw ProblemError.notFound('project', id);
    await this.publisher.publish();
  }
}
