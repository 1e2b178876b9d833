import { Injectable } from '@nestjs/common';
import { and, asc, eq, inArray, or, sql } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { apiProxies, identitySources, keyManagers, projectSecrets } from '../database/schema';
import { ProjectEntityRepository } from './entity.repository';

export type ProjectSecretRow = typeof projectSecrets.$inferSelect;

/** Queries of project secrets. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class ProjectSecretRepository extends ProjectEntityRepository<typeof projectSecrets> {
  constructor(database: Database) {
    super(projectSecrets, database);
  }

  /** The project's secrets (all, or those of the given teams), by name. */
  list(projectId: string, teamIds: string[] | 'all'): Promise<ProjectSecretRow[]> {
    const inProject = eq(projectSecrets.projectId, projectId);
    return this.database.db
      .select()
      .from(projectSecrets)
      .where(teamIds === 'all' ? inProject : and(inProject, inArray(projectSecrets.teamId, teamIds)))
      .orderBy(asc(projectSecrets.name));
  }

  /** The project's secrets with the given ids (those that exist): what its proxies' policies refer to. */
  ofProject(projectId: string, ids: string[], db: Reads = this.database.db): Promise<ProjectSecretRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return db
      .select()
      .from(projectSecrets)
      .where(and(eq(projectSecrets.projectId, projectId), inArray(projectSecrets.id, ids)));
  }

  /**
   * Ids of the project's proxies whose policies mention the secret id (a UUID cannot occur in a
   * policy by accident): they are republished when it rotates, and keep it from being deleted.
   */
  async referencingProxies(db: Reads, projectId: string, secretId: string): Promise<string[]> {
    const rows = await db
      .select({ id: apiProxies.id })
      .from(apiProxies)
      .where(and(eq(apiProxies.projectId, projectId), sql`strpos(${apiProxies.policies}::text, ${secretId}) > 0`));
    return rows.map((r) => r.id);
  }

  /** Names of the project's key managers that take their client secret or HS* key from the secret (it cannot be deleted under them). */
  async referencingKeyManagers(db: Reads, projectId: string, secretId: string): Promise<string[]> {
    const rows = await db
      .select({ name: keyManagers.name })
      .from(keyManagers)
      .where(
        and(eq(keyManagers.projectId, projectId), or(sql`${keyManagers.settings}->>'clientSecretId' = ${secretId}`, sql`${keyManagers.settings}->>'sharedSecretId' = ${secretId}`)),
      );
    return rows.map((r) => r.name);
  }

  /** The key managers taking their HS* key from the secret, with the algorithms each verifies. */
  async hmacUsers(db: Reads, projectId: string, secretId: string): Promise<{ name: string; algorithms: string[] }[]> {
    const rows = await db
      .select({ name: keyManagers.name, algorithms: sql<string[]>`coalesce(${keyManagers.settings}->'algorithms', '[]'::jsonb)` })
      .from(keyManagers)
      .where(and(eq(keyManagers.projectId, projectId), sql`${keyManagers.settings}->>'sharedSecretId' = ${secretId}`));
    return rows;
  }

  /** Names of the project's oidc identity sources that take their client secret from the secret. */
  async referencingIdentitySources(db: Reads, projectId: string, secretId: string): Promise<string[]> {
    const rows = await db
      .select({ name: identitySources.name })
      .from(identitySources)
      .where(and(eq(identitySources.projectId, projectId), sql`${identitySources.config}->>'clientSecretId' = ${secretId}`));
    return rows.map((r) => r.name);
  }

  /** Every secret, locked, for the master-key rotation. */
  sealedForUpdate(tx: Tx): Promise<ProjectSecretRow[]> {
    return tx.select().from(projectSecrets).for('update');
  }
}
