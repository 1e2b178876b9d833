import { Injectable } from '@nestjs/common';
import type { ReadFilter } from '@idm/domain';
import { and, asc, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { Database, type Reads } from '../database/database';
import { identitySources } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type IdentitySourceRow = typeof identitySources.$inferSelect;

/** Identity sources (LDAP, SQL): System ones (`project_id` null) and projects' own. */
@Injectable()
export class IdentitySourceRepository extends EntityRepository<typeof identitySources> {
  constructor(database: Database) {
    super(identitySources, database);
  }

  /** System sources plus those of the projects `filter` lets the actor read, by name. */
  list(filter: ReadFilter, includeSystem: boolean): Promise<IdentitySourceRow[]> {
    const visible: (SQL | undefined)[] = [];
    if (includeSystem) visible.push(isNull(identitySources.projectId));
    if (filter.all) visible.push(undefined);
    const projectIds = [...filter.projectIds, ...filter.teams.map((t) => t.projectId)];
    if (projectIds.length > 0) visible.push(inArray(identitySources.projectId, projectIds));
    if (visible.length === 0) return Promise.resolve([]);
    const where = visible.includes(undefined) ? undefined : or(...visible);
    return this.database.db.select().from(identitySources).where(where).orderBy(asc(identitySources.name));
  }

  /** Every source: what each environment's Gateways get (a short list). */
  all(db: Reads = this.database.db): Promise<IdentitySourceRow[]> {
    return db.select().from(identitySources).orderBy(asc(identitySources.id));
  }

  /** Enabled System sources that let operators log in to the Manager, by name (the order a password login tries them in). */
  operatorLoginSources(): Promise<IdentitySourceRow[]> {
    return this.database.db
      .select()
      .from(identitySources)
      .where(and(isNull(identitySources.projectId), eq(identitySources.enabled, true), sql`(${identitySources.operatorLogin} ->> 'enabled') = 'true'`))
      .orderBy(asc(identitySources.name));
  }

  /** Enabled sources whose periodic sync is on (a short list, read at every scheduler tick). */
  periodicallySynced(): Promise<IdentitySourceRow[]> {
    return this.database.db
      .select()
      .from(identitySources)
      .where(and(eq(identitySources.enabled, true), sql`(${identitySources.sync} ->> 'enabled') = 'true'`))
      .orderBy(asc(identitySources.id));
  }

  async findByName(name: string, db: Reads = this.database.db): Promise<IdentitySourceRow | undefined> {
    const [row] = await db.select().from(identitySources).where(eq(identitySources.name, name));
    return row;
  }

  findByNames(names: string[], db: Reads = this.database.db): Promise<IdentitySourceRow[]> {
    if (names.length === 0) return Promise.resolve([]);
    return db.select().from(identitySources).where(inArray(identitySources.name, names));
  }

  /** Rows with a sealed secret, locked, for master-key rotation. */
  sealedForUpdate(db: Reads): Promise<Pick<IdentitySourceRow, 'id' | 'secret'>[]> {
    return db.select({ id: identitySources.id, secret: identitySources.secret }).from(identitySources).for('update');
  }
}
