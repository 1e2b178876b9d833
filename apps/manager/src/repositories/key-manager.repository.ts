import { Injectable } from '@nestjs/common';
import type { ReadFilter } from '@idm/domain';
import { asc, eq, inArray, isNull, or, type SQL } from 'drizzle-orm';
import { Database, type Reads } from '../database/database';
import { keyManagers } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type KeyManagerRow = typeof keyManagers.$inferSelect;
export type { KeyManagerSettings } from '../database/schema';

/** Key managers (trusted issuers): System ones (`project_id` null) and projects' own. */
@Injectable()
export class KeyManagerRepository extends EntityRepository<typeof keyManagers> {
  constructor(database: Database) {
    super(keyManagers, database);
  }

  /** System key managers plus those of the projects `filter` lets the actor read, by name. */
  list(filter: ReadFilter, includeSystem: boolean): Promise<KeyManagerRow[]> {
    const visible: (SQL | undefined)[] = [];
    if (includeSystem) visible.push(isNull(keyManagers.projectId));
    if (filter.all) visible.push(undefined);
    const projectIds = [...filter.projectIds, ...filter.teams.map((t) => t.projectId)];
    if (projectIds.length > 0) visible.push(inArray(keyManagers.projectId, projectIds));
    if (visible.length === 0) return Promise.resolve([]);
    const where = visible.includes(undefined) ? undefined : or(...visible);
    return this.database.db.select().from(keyManagers).where(where).orderBy(asc(keyManagers.name));
  }

  /** The given key managers (those that exist). */
  findByIds(ids: string[], db: Reads = this.database.db): Promise<KeyManagerRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return db.select().from(keyManagers).where(inArray(keyManagers.id, ids));
  }

  /** The named key managers (those that exist); names are unique across the installation. */
  findByNames(names: string[], db: Reads = this.database.db): Promise<KeyManagerRow[]> {
    if (names.length === 0) return Promise.resolve([]);
    return db.select().from(keyManagers).where(inArray(keyManagers.name, names));
  }

  /** Every key manager: what each environment's Gateways get (a short list). */
  all(db: Reads = this.database.db): Promise<KeyManagerRow[]> {
    return db.select().from(keyManagers).orderBy(asc(keyManagers.id));
  }

  async findByName(name: string, db: Reads = this.database.db): Promise<KeyManagerRow | undefined> {
    const [row] = await db.select().from(keyManagers).where(eq(keyManagers.name, name));
    return row;
  }

  async findByIssuer(issuer: string, db: Reads = this.database.db): Promise<KeyManagerRow | undefined> {
    const [row] = await db.select().from(keyManagers).where(eq(keyManagers.issuer, issuer));
    return row;
  }

  /** Rows with sealed secrets, locked, for master-key rotation. */
  sealedForUpdate(db: Reads): Promise<Pick<KeyManagerRow, 'id' | 'clientSecret' | 'sharedSecret' | 'tlsClientKey'>[]> {
    return db
      .select({ id: keyManagers.id, clientSecret: keyManagers.clientSecret, sharedSecret: keyManagers.sharedSecret, tlsClientKey: keyManagers.tlsClientKey })
      .from(keyManagers)
      .for('update');
  }
}
