import { Injectable } from '@nestjs/common';
import { BUILT_IN_ROLES } from '@idm/domain';
import { asc, eq, sql } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { roles } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type RoleRow = typeof roles.$inferSelect;

/** Queries of the role aggregate (built-in and custom roles). */
@Injectable()
export class RoleRepository extends EntityRepository<typeof roles> {
  constructor(database: Database) {
    super(roles, database);
  }

  list(): Promise<RoleRow[]> {
    return this.database.db.select().from(roles).orderBy(asc(roles.name));
  }

  /** The installation's custom roles, by name. */
  listCustom(): Promise<RoleRow[]> {
    return this.database.db.select().from(roles).where(eq(roles.builtIn, false)).orderBy(asc(roles.name));
  }

  /** Built-in roles are code: every boot brings their rows in line with this release's definitions. Their ids by name. */
  async syncBuiltIn(tx: Tx): Promise<Map<string, string>> {
    const rows = await tx
      .insert(roles)
      .values(Object.entries(BUILT_IN_ROLES).map(([name, r]) => ({ name, description: r.description, builtIn: true, permissions: [...r.permissions] })))
      .onConflictDoUpdate({ target: roles.name, set: { permissions: sql`excluded.permissions`, description: sql`excluded.description`, builtIn: true } })
      .returning({ id: roles.id, name: roles.name });
    return new Map(rows.map((r) => [r.name, r.id]));
  }
}
