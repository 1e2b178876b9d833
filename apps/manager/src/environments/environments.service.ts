import { Injectable } from '@nestjs/common';
import type { CreateEnvironment, Environment, UpdateEnvironment } from '@idm/domain';
import { asc, eq } from 'drizzle-orm';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { Database } from '../database/database';
import { environments, proxyDeployments } from '../database/schema';
import { ProblemError } from '../problems/problem.error';

type Row = typeof environments.$inferSelect;
const toEnvironment = (r: Row): Environment => ({
  id: r.id,
  name: r.name,
  description: r.description,
  revision: r.revision,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

@Injectable()
export class EnvironmentsService {
  constructor(
    private readonly database: Database,
    private readonly publisher: ConfigPublisher,
  ) {}

  async list(): Promise<Environment[]> {
    return (await this.database.db.select().from(environments).orderBy(asc(environments.name))).map(toEnvironment);
  }

  async get(id: string): Promise<Environment> {
    const [row] = await this.database.db.select().from(environments).where(eq(environments.id, id));
    if (!row) throw ProblemError.notFound('environment', id);
    return toEnvironment(row);
  }

  async create(input: CreateEnvironment): Promise<Environment> {
    const [row] = await this.database.db.insert(environments).values(input).returning();
    await this.publisher.publish();
    return this.get(row.id);
  }

  async update(id: string, input: UpdateEnvironment): Promise<Environment> {
    const [row] = await this.database.db.update(environments).set({ ...input, updatedAt: new Date() }).where(eq(environments.id, id)).returning();
    if (!row) throw ProblemError.notFound('environment', id);
    return toEnvironment(row);
  }

  /** Refused while proxies are deployed to it: undeploy them first, so no traffic vanishes by accident. */
  async remove(id: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      const [deployed] = await tx.select().from(proxyDeployments).where(eq(proxyDeployments.environmentId, id)).limit(1);
      if (deployed) throw ProblemError.conflict('environment_in_use', 'proxies are still deployed to this environment');
      const [row] = await tx.delete(environments).where(eq(environments.id, id)).returning();
      if (!row) throw ProblemError.notFound('environment', id);
    });
  }
}
