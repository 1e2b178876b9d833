import { Injectable } from '@nestjs/common';
import { and, asc, eq, getTableColumns, gt, ilike, inArray, isNotNull, or, sql, type SQL } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { apiKeys, credentials, credentialTokenSettings } from '../database/schema';
import { jsonParam, valuesFound } from './bulk-rows';
import { ProjectEntityRepository } from './entity.repository';
import { groupBy } from './group-by';
import { projectRowsFilter } from './project-rows-filter';
import type { ReadFilter } from '@idm/domain';

export type CredentialRow = typeof credentials.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type NewApiKeyRow = typeof apiKeys.$inferInsert;
export type { StoredMetadataEntry } from '../database/schema';
export type TokenSettingsRow = typeof credentialTokenSettings.$inferSelect;

/** An API key as `updateWithKeys`' JSON subquery returns it (timestamps as text). */
type StoredKey = Omit<ApiKeyRow, 'expiresAt' | 'createdAt'> & { expiresAt: string | null; createdAt: string };

/** One credential of a bulk import, in the columns the set-based insert unpacks (metadata already sealed). */
export interface ImportedCredentialRow {
  team_id: string | null;
  username: string;
  password_hash: string | null;
  enabled: boolean;
  expires_at: string | null;
  email: string | null;
  full_name: string | null;
  description: string | null;
  roles: string[];
  metadata: unknown;
  access: unknown;
}

/** One API key of a bulk import: already hashed, never the key itself. */
export interface ImportedApiKeyRow {
  credential_id: string;
  prefix: string;
  key_hash: string;
}

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

  /**
   * One page of the project's end users (credentials with a profile) by username; `search` is a
   * case-insensitive substring of username, email or name (LIKE wildcards in it are literal).
   */
  endUserPage(visible: SQL, after: string | undefined, limit: number, search: string | undefined): Promise<CredentialRow[]> {
    const pattern = search === undefined ? undefined : `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.database.db
      .select()
      .from(credentials)
      .where(
        and(
          visible,
          isNotNull(credentials.endUser),
          after === undefined ? undefined : gt(credentials.username, after),
          pattern === undefined ? undefined : or(ilike(credentials.username, pattern), ilike(credentials.email, pattern), ilike(credentials.fullName, pattern)),
        ),
      )
      .orderBy(asc(credentials.username))
      .limit(limit);
  }

  /** One page of the project's OIDC clients (credentials whose token settings hold OIDC client settings) by username, with their settings. */
  oidcClientPage(visible: SQL, after: string | undefined, limit: number): Promise<{ credential: CredentialRow; settings: TokenSettingsRow['settings'] }[]> {
    return this.database.db
      .select({ credential: credentials, settings: credentialTokenSettings.settings })
      .from(credentials)
      .innerJoin(credentialTokenSettings, eq(credentialTokenSettings.credentialId, credentials.id))
      .where(and(visible, sql`jsonb_typeof(${credentialTokenSettings.settings} -> 'oidc') = 'object'`, after === undefined ? undefined : gt(credentials.username, after)))
      .orderBy(asc(credentials.username))
      .limit(limit);
  }

  /** The project's credential with this exact username (locked for a change when `lock`). */
  async findByUsername(db: Reads, projectId: string, username: string, lock = false): Promise<CredentialRow | undefined> {
    const query = db
      .select()
      .from(credentials)
      .where(and(eq(credentials.projectId, projectId), eq(credentials.username, username)));
    const [row] = await (lock ? query.for('update') : query);
    return row;
  }

  /** The enabled end users an identity source provisioned (linked by `end_user.identitySourceId`), locked for a change. */
  enabledEndUsersOfSource(tx: Tx, sourceId: string): Promise<CredentialRow[]> {
    return tx
      .select()
      .from(credentials)
      .where(and(eq(credentials.enabled, true), sql`${credentials.endUser} ->> 'identitySourceId' = ${sourceId}`))
      .orderBy(asc(credentials.id))
      .for('update');
  }

  /** A page of a source's enabled end users by id (the periodic sync reads them without locks; each disabling locks its row). */
  enabledEndUsersOfSourcePage(db: Reads, sourceId: string, afterId: string | null, limit: number): Promise<Pick<CredentialRow, 'id' | 'username'>[]> {
    return db
      .select({ id: credentials.id, username: credentials.username })
      .from(credentials)
      .where(and(eq(credentials.enabled, true), sql`${credentials.endUser} ->> 'identitySourceId' = ${sourceId}`, ...(afterId === null ? [] : [gt(credentials.id, afterId)])))
      .orderBy(asc(credentials.id))
      .limit(limit);
  }

  /** The end user, locked, while it is still enabled and still the source's (an operator may have changed it since it was read). */
  async enabledEndUserOfSource(tx: Tx, id: string, sourceId: string): Promise<CredentialRow | undefined> {
    const [row] = await tx
      .select()
      .from(credentials)
      .where(and(eq(credentials.id, id), eq(credentials.enabled, true), sql`${credentials.endUser} ->> 'identitySourceId' = ${sourceId}`))
      .for('update');
    return row;
  }

  /** Whether another end user of the project has this email (case-insensitive, as the unique index compares). */
  async endUserEmailTaken(db: Reads, projectId: string, email: string, exceptId: string | null): Promise<boolean> {
    const rows = await db
      .select({ id: credentials.id })
      .from(credentials)
      .where(and(eq(credentials.projectId, projectId), isNotNull(credentials.endUser), sql`lower(${credentials.email}) = lower(${email})`));
    return rows.some((r) => r.id !== exceptId);
  }

  /** Every credential of the project, by username. */
  listInProject(projectId: string): Promise<CredentialRow[]> {
    return this.database.db.select().from(credentials).where(eq(credentials.projectId, projectId)).orderBy(asc(credentials.username));
  }

  /** The sealed columns of every credential, locked (master-key rotation reseals them). */
  sealedForUpdate(tx: Tx): Promise<Pick<CredentialRow, 'id' | 'metadata' | 'digestHa1'>[]> {
    return tx.select({ id: credentials.id, metadata: credentials.metadata, digestHa1: credentials.digestHa1 }).from(credentials).for('update');
  }

  /**
   * Updates the credential and returns it with its API keys (oldest first, as `keysOf` orders
   * them) in one statement: the keys come from a subquery in RETURNING. A PATCH does not touch
   * the keys, and the row is locked by the change, so they are the keys the response must show;
   * reading them in a second round trip cost a statement per PATCH (issue #13: at a million
   * credentials the Manager's cost per change is its round trips).
   */
  async updateWithKeys(tx: Tx, id: string, values: Partial<typeof credentials.$inferInsert>): Promise<{ row: CredentialRow; keys: ApiKeyRow[] } | undefined> {
    // Timestamps as the text a timestamptz column arrives as, decoded below like drizzle decodes one.
    // The updated row is named with its table: in RETURNING drizzle writes a bare "id", which the
    // subquery would take for the key's own id.
    const keys = sql<StoredKey[] | string>`COALESCE((
      SELECT json_agg(json_build_object('id', k.id, 'credentialId', k.credential_id, 'prefix', k.prefix, 'keyHash', k.key_hash,
        'expiresAt', k.expires_at::text, 'createdAt', k.created_at::text) ORDER BY k.created_at, k.id)
      FROM ${apiKeys} k WHERE k.credential_id = ${credentials}.id), '[]'::json)`;
    const [updated] = await tx
      .update(credentials)
      .set(values)
      .where(eq(credentials.id, id))
      .returning({ ...getTableColumns(credentials), keys });
    if (!updated) return undefined;
    const { keys: stored, ...row } = updated;
    const parsed = typeof stored === 'string' ? (JSON.parse(stored) as StoredKey[]) : stored;
    return {
      row,
      keys: parsed.map((k) => ({ ...k, expiresAt: k.expiresAt === null ? null : new Date(k.expiresAt), createdAt: new Date(k.createdAt) })),
    };
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

  /** The token settings of one project's credentials, by credential id (those that have some). */
  async tokenSettingsByCredential(projectId: string, db: Reads = this.database.db): Promise<Map<string, TokenSettingsRow['settings']>> {
    const rows = await db
      .select({ credentialId: credentialTokenSettings.credentialId, settings: credentialTokenSettings.settings })
      .from(credentialTokenSettings)
      .innerJoin(credentials, eq(credentials.id, credentialTokenSettings.credentialId))
      .where(eq(credentials.projectId, projectId));
    return new Map(rows.map((r) => [r.credentialId, r.settings]));
  }

  /**
   * Bulk import: every row in ONE INSERT from one jsonb parameter (`jsonb_to_recordset`), the id of
   * each new credential by username.
   */
  async insertImported(tx: Tx, projectId: string, rows: ImportedCredentialRow[], at: Date): Promise<Map<string, string>> {
    const inserted = (await tx.execute(sql`
      INSERT INTO ${credentials} (project_id, team_id, username, password_hash, enabled, expires_at, email, full_name, description, roles, metadata, access, created_at, updated_at)
      SELECT ${projectId}::uuid, r.team_id, r.username, r.password_hash, r.enabled, r.expires_at, r.email, r.full_name, r.description,
             ARRAY(SELECT jsonb_array_elements_text(r.roles)), r.metadata, r.access, ${at.toISOString()}::timestamptz, ${at.toISOString()}::timestamptz
      FROM jsonb_to_recordset(${jsonParam(rows)}) AS r(team_id uuid, username text, password_hash text, enabled boolean, expires_at timestamptz, email text, full_name text, description text, roles jsonb, metadata jsonb, access jsonb)
      RETURNING id, username`)) as unknown as { rows: { id: string; username: string }[] };
    return new Map(inserted.rows.map((row) => [row.username, row.id]));
  }

  /** Bulk import's API keys (hashed), in one INSERT. */
  async insertImportedKeys(tx: Tx, keys: ImportedApiKeyRow[], at: Date): Promise<void> {
    if (!keys.length) return;
    await tx.execute(sql`
      INSERT INTO ${apiKeys} (credential_id, prefix, key_hash, created_at)
      SELECT k.credential_id, k.prefix, k.key_hash, ${at.toISOString()}::timestamptz FROM jsonb_to_recordset(${jsonParam(keys)}) AS k(credential_id uuid, prefix text, key_hash text)`);
  }

  /** The usernames among `usernames` the project already has. */
  takenUsernames(tx: Tx, projectId: string, usernames: string[]): Promise<Set<string>> {
    return valuesFound(
      tx,
      sql`SELECT c.username AS value FROM jsonb_array_elements_text(${jsonParam(usernames)}) AS wanted(value) JOIN ${credentials} c ON c.project_id = ${projectId} AND c.username = wanted.value`,
    );
  }

  /** The API key prefixes among `prefixes` already stored (in any project: a prefix is unique on its own). */
  async takenKeyPrefixes(tx: Tx, prefixes: string[]): Promise<Set<string>> {
    if (!prefixes.length) return new Set();
    return valuesFound(tx, sql`SELECT k.prefix AS value FROM jsonb_array_elements_text(${jsonParam(prefixes)}) AS wanted(value) JOIN ${apiKeys} k ON k.prefix = wanted.value`);
  }
}
