import { Injectable } from '@nestjs/common';
import { asc, eq, inArray } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { environments, proxyDeployments } from '../database/schema';
import { EntityWrites } from './entity-writes';

export type EnvironmentRow = typeof environments.$inferSelect;

/** Queries of the environment aggregate. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class EnvironmentRepository extends EntityWrites<typeof environments> {
  constructor(private readonly database: Database) {
    super(environments);
  }

  list(): Promise<EnvironmentRow[]> {
    return this.database.db.select().from(environments).orderBy(asc(environments.name));
  }

  async find(id: string): Promise<EnvironmentRow | undefined> {
    const [row] = await this.database.db.select().from(environments).where(eq(environments.id, id));
    return row;
  }

  async lock(tx: Tx, id: string): Promise<EnvironmentRow | undefined> {
    const [row] = await tx.select().from(environments).where(eq(environments.id, id)).for('update');
    return row;
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
