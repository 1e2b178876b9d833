import { Injectable } from '@nestjs/common';
import { and, asc, count, eq, inArray, isNull, sql } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { clientRegistrations, credentials, initialAccessTokens, projectClientRegistration } from '../database/schema';

export type InitialAccessTokenRow = typeof initialAccessTokens.$inferSelect;
export type ClientRegistrationRow = typeof clientRegistrations.$inferSelect;

/** Dynamic client registration: the projects' switches, their initial access tokens, and the clients that registered. */
@Injectable()
export class ClientRegistrationRepository {
  constructor(private readonly database: Database) {}

  async enabled(projectId: string, db: Reads = this.database.db): Promise<boolean> {
    const [row] = await db.select().from(projectClientRegistration).where(eq(projectClientRegistration.projectId, projectId));
    return row?.enabled ?? false;
  }

  /** The previous value (false when the project had no row). */
  async setEnabled(tx: Tx, projectId: string, enabled: boolean): Promise<boolean> {
    const [before] = await tx.select().from(projectClientRegistration).where(eq(projectClientRegistration.projectId, projectId)).for('update');
    await tx
      .insert(projectClientRegistration)
      .values({ projectId, enabled })
      .onConflictDoUpdate({ target: projectClientRegistration.projectId, set: { enabled, updatedAt: new Date() } });
    return before?.enabled ?? false;
  }

  /** The projects that accept registrations (what the Gateways' discovery reads, through Redis). */
  async enabledProjects(): Promise<string[]> {
    const rows = await this.database.db
      .select({ projectId: projectClientRegistration.projectId })
      .from(projectClientRegistration)
      .where(eq(projectClientRegistration.enabled, true));
    return rows.map((r) => r.projectId);
  }

  /** The ids of the project's clients that registered themselves (RFC 7591): theirs to manage, not APIops'. */
  async registeredClientIds(projectId: string, db: Reads = this.database.db): Promise<Set<string>> {
    const rows = await db
      .select({ id: clientRegistrations.credentialId })
      .from(clientRegistrations)
      .innerJoin(credentials, eq(clientRegistrations.credentialId, credentials.id))
      .where(eq(credentials.projectId, projectId));
    return new Set(rows.map((r) => r.id));
  }

  async insertToken(tx: Tx, values: typeof initialAccessTokens.$inferInsert): Promise<InitialAccessTokenRow> {
    const [row] = await tx.insert(initialAccessTokens).values(values).returning();
    return row;
  }

  async tokensOf(projectId: string): Promise<InitialAccessTokenRow[]> {
    return this.database.db
      .select()
      .from(initialAccessTokens)
      .where(eq(initialAccessTokens.projectId, projectId))
      .orderBy(asc(initialAccessTokens.createdAt), asc(initialAccessTokens.id));
  }

  /** Clients registered per token id. */
  async registrationCounts(tokenIds: string[], db: Reads = this.database.db): Promise<Map<string, number>> {
    if (tokenIds.length === 0) return new Map();
    const rows = await db
      .select({ id: clientRegistrations.initialAccessTokenId, n: count() })
      .from(clientRegistrations)
      .where(inArray(clientRegistrations.initialAccessTokenId, tokenIds))
      .groupBy(clientRegistrations.initialAccessTokenId);
    return new Map(rows.map((r) => [r.id!, Number(r.n)]));
  }

  async findToken(db: Reads, projectId: string, id: string): Promise<InitialAccessTokenRow | undefined> {
    const [row] = await db
      .select()
      .from(initialAccessTokens)
      .where(and(eq(initialAccessTokens.projectId, projectId), eq(initialAccessTokens.id, id)));
    return row;
  }

  /** By its hash, locked: a single-use token is spent by exactly one registration. */
  async tokenByHash(tx: Tx, tokenHash: string): Promise<InitialAccessTokenRow | undefined> {
    const [row] = await tx.select().from(initialAccessTokens).where(eq(initialAccessTokens.tokenHash, tokenHash)).for('update');
    return row;
  }

  /** Marks a single-use token spent; false when another registration spent it first. */
  async spend(tx: Tx, id: string, at: Date): Promise<boolean> {
    const rows = await tx
      .update(initialAccessTokens)
      .set({ usedAt: at })
      .where(and(eq(initialAccessTokens.id, id), isNull(initialAccessTokens.usedAt)))
      .returning({ id: initialAccessTokens.id });
    return rows.length === 1;
  }

  async deleteToken(tx: Tx, projectId: string, id: string): Promise<InitialAccessTokenRow | undefined> {
    const [row] = await tx
      .delete(initialAccessTokens)
      .where(and(eq(initialAccessTokens.projectId, projectId), eq(initialAccessTokens.id, id)))
      .returning();
    return row;
  }

  async insertRegistration(tx: Tx, values: typeof clientRegistrations.$inferInsert): Promise<void> {
    await tx.insert(clientRegistrations).values(values);
  }

  async registration(db: Reads, credentialId: string, lock = false): Promise<ClientRegistrationRow | undefined> {
    const query = db.select().from(clientRegistrations).where(eq(clientRegistrations.credentialId, credentialId));
    const [row] = await (lock ? query.for('update') : query);
    return row;
  }

  async updateRegistration(tx: Tx, credentialId: string, accessTokenHash: string, metadata: Record<string, unknown>): Promise<void> {
    await tx
      .update(clientRegistrations)
      .set({ accessTokenHash, metadata, updatedAt: sql`now()` })
      .where(eq(clientRegistrations.credentialId, credentialId));
  }
}
