import { Injectable } from '@nestjs/common';
import { asc, eq, inArray } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { environments, proxyDeployments } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type EnvironmentRow = typeof environments.$inferSelect;

/** Queries of the environment aggregate. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class EnvironmentRepository extends EntityRepository<typeof environments> {
  constructor(database: Database) {
    super(environments, database);
  }

  list(): Promise<EnvironmentRow[]> {
    return this.database.db.select().from(environments).orderBy(asc(environments.name));
  }

  /** The name of every environment. */
  async names(): Promise<string[]> {
    return (await this.database.db.select({ name: environments.name }).from(environments)).map((e) => e.name);
  }

  /** The id and name of each named environment that exists. */
  byNames(tx: Tx, names: string[]): Promise<Pick<EnvironmentRow, 'id' | 'name'>[]> {
    return tx.select({ id: environments.id, name: environments.name }).from(environments).where(inArray(environments.name, names));
  }

  async hasDeployments(tx: Tx, id: string): Promise<boolean> {
    const [deployed] = await tx.select({ proxyId: proxyDeployments.proxyId }).from(proxyDeployments).where(eq(proxyDeployments.environmentId, id)).limit(1);
    return !!deployed;
  }
}
