import { Injectable } from '@nestjs/common';
import { and, asc, eq, gt, inArray, type SQL } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { apiKeys, credentials, credentialTokenSettings } from '../database/schema';
import { ProjectEntityRepository } from './entity.repository';
import { groupBy } from './group-by';
import { projectRowsFilter } from './project-rows-filter';
import type { ReadFilter } from '@idm/domain';

export type CredentialRow = typeof credentials.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type NewApiKeyRow = typeof apiKeys.$inferInsert;
export type { StoredMetadataEntry } from '../database/schema';
export type TokenSettingsRow = typeof credentialTokenSettings.$inferSelect;

/**
 * Queries of the credential aggregate (credentials, their API keys and token settings). Writes
 * take the transaction of a ChangeWriter change, so they are audited with it; reads default to
 * the database and take a transaction where a change must see its own writes or lock.
 */
@Injectable()
export class CredentialRepository extends ProjectEntityRepository<typeof credentials> {
  constructor(database: Database) {
    super(credentials, database);
  }

  /** The condition for the project's credentials the reader may see (null: none, deny the list). */
  readableIn(filter: ReadFilter, projectId: string): SQL | null {
    return projectRowsFilter(filter, projectId, credentials);
  }

  /** One page ordered by username, after the `visible` filter (project, and teams for a team member). */
  page(visible: SQL, after: string | undefined, limit: number): Promise<CredentialRow[]> {
    return this.database.db
      .select()
      .from(credentials)
      .where(and(visible, after === undefined ? undefined : gt(credentials.username, after)))
      .orderBy(asc(credentials.username))
      .limit(limit);
  }

  /** Every credential of the project, by username. */
  listInProject(projectId: string): Promise<CredentialRow[]> {
    return this.database.db.select().from(credentials).where(eq(credentials.projectId, projectId)).orderBy(asc(credentials.username));
  }

  /** The sealed columns of every credential, locked (master-key rotation reseals them). */
  sealedForUpdate(tx: Tx): Promise<Pick<CredentialRow, 'id' | 'metadata' | 'digestHa1'>[]> {
    return tx.select({ id: credentials.id, metadata: credentials.metadata, digestHa1: credentials.digestHa1 }).from(credentials).for('update');
  }

  /** The API keys of each credential (oldest first), in one query. */
  async keysOf(credentialIds: string[], db: Reads = this.database.db): Promise<Map<string, ApiKeyRow[]>> {
    if (credentialIds.length === 0) return new Map();
    const keys = await db.select().from(apiKeys).where(inArray(apiKeys.credentialId, credentialIds)).orderBy(asc(apiKeys.createdAt));
    return groupBy(keys, (k) => k.credentialId);
  }

  async findKey(tx: Tx, credentialId: string, keyId: string): Promise<ApiKeyRow | undefined> {
    const [row] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.credentialId, credentialId), eq(apiKeys.id, keyId)))
      .for('update');
    return row;
  }

  async findKeyByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    const [row] = await this.database.db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
    return row;
  }

  async insertKey(tx: Tx, values: NewApiKeyRow): Promise<ApiKeyRow> {
    const [row] = await tx.insert(apiKeys).values(values).returning();
    return row;
  }

  async setKeyExpiry(tx: Tx, keyId: string, expiresAt: Date): Promise<ApiKeyRow> {
    const [row] = await tx.update(apiKeys).set({ expiresAt }).where(eq(apiKeys.id, keyId)).returning();
    return row;
  }

  /** The deleted key, or undefined when the credential has no such key. */
  async deleteKey(tx: Tx, credentialId: string, keyId: string): Promise<ApiKeyRow | undefined> {
    const [row] = await tx
      .delete(apiKeys)
      .where(and(eq(apiKeys.credentialId, credentialId), eq(apiKeys.id, keyId)))
      .returning();
    return row;
  }

  async findTokenSettings(credentialId: string, db: Reads = this.database.db, lock = false): Promise<TokenSettingsRow | undefined> {
    const query = db.select().from(credentialTokenSettings).where(eq(credentialTokenSettings.credentialId, credentialId));
    const [row] = await (lock ? query.for('update') : query);
    return row;
  }

  async putTokenSettings(tx: Tx, credentialId: string, settings: Record<string, unknown>): Promise<void> {
    await tx
      .insert(credentialTokenSettings)
      .values({ credentialId, settings })
      .onConflictDoUpdate({ target: credentialTokenSettings.credentialId, set: { settings, updatedAt: new Date() } });
  }

  /** The deleted settings, or undefined when the credential had none. */
  async deleteTokenSettings(tx: Tx, credentialId: string): Promise<TokenSettingsRow | undefined> {
    const [row] = await tx.delete(credentialTokenSettings).where(eq(credentialTokenSettings.credentialId, credentialId)).returning();
    return row;
  }

  /** The token settings of every credential of the projects. */
  async tokenSettingsInProjects(db: Reads, projectIds: string[]): Promise<TokenSettingsRow['settings'][]> {
    if (projectIds.length === 0) return [];
    const rows = await db
      .select({ settings: credentialTokenSettings.settings })
      .from(credentialTokenSettings)
      .innerJoin(credentials, eq(credentials.id, credentialTokenSettings.credentialId))
      .where(inArray(credentials.projectId, projectIds));
    return rows.map((r) => r.settings);
  }
}
