import { BUILT_IN_ROLES } from '@idm/domain';
import { sql } from 'drizzle-orm';
import type { Tx } from '../database/database';
import { roles } from '../database/schema';

/** Built-in roles are code: every boot brings their rows in line with this release's definitions. */
export async function syncBuiltInRoles(tx: Tx): Promise<Map<string, string>> {
  const rows = await tx
    .insert(roles)
    .values(Object.entries(BUILT_IN_ROLES).map(([name, r]) => ({ name, description: r.description, builtIn: true, permissions: [...r.permissions] })))
    .onConflictDoUpdate({ target: roles.name, set: { permissions: sql`excluded.permissions`, description: sql`excluded.description`, builtIn: true } })
    .returning({ id: roles.id, name: roles.name });
  return new Map(rows.map((r) => [r.name, r.id]));
}
