import { Injectable } from '@nestjs/common';
import { and, asc, eq, gt, inArray, isNull, lt } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { operators, operatorSessions, roleBindings } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type OperatorRow = typeof operators.$inferSelect;
export type OperatorSessionRow = typeof operatorSessions.$inferSelect;

/** Queries of the operator aggregate: Manager users and their login sessions. */
@Injectable()
export class OperatorRepository extends EntityRepository<typeof operators> {
  constructor(database: Database) {
    super(operators, database);
  }

  list(): Promise<OperatorRow[]> {
    return this.database.db.select().from(operators).orderBy(asc(operators.username));
  }

  async findByUsername(username: string): Promise<OperatorRow | undefined> {
    const [row] = await this.database.db.select().from(operators).where(eq(operators.username, username));
    return row;
  }

  /** A local account (never a federated operator, whatever its username): what a password login checks first. */
  async findLocalByUsername(username: string): Promise<OperatorRow | undefined> {
    const [row] = await this.database.db
      .select()
      .from(operators)
      .where(and(eq(operators.username, username), isNull(operators.sourceId)));
    return row;
  }

  /** The operator an identity source vouches for, by its identity key (source and subject), locked for its login's refresh. */
  async findFederated(tx: Tx, sourceId: string, subject: string): Promise<OperatorRow | undefined> {
    const [row] = await tx
      .select()
      .from(operators)
      .where(and(eq(operators.sourceId, sourceId), eq(operators.subject, subject)))
      .for('update');
    return row;
  }

  async idsOfSource(db: Reads, sourceId: string): Promise<string[]> {
    const rows = await db.select({ id: operators.id }).from(operators).where(eq(operators.sourceId, sourceId));
    return rows.map((r) => r.id);
  }

  /** The operators a source vouched for, with their subjects there (the periodic sync asks the directory about each). */
  ofSource(db: Reads, sourceId: string): Promise<Pick<OperatorRow, 'id' | 'username' | 'subject'>[]> {
    return db
      .select({ id: operators.id, username: operators.username, subject: operators.subject })
      .from(operators)
      .where(eq(operators.sourceId, sourceId))
      .orderBy(asc(operators.id));
  }

  /** Those of `ids` who still have a session or a binding of their own: what a sync would take from them. */
  async holdingAccess(db: Reads, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const sessions = await db.select({ id: operatorSessions.operatorId }).from(operatorSessions).where(inArray(operatorSessions.operatorId, ids));
    const bound = await db
      .select({ id: roleBindings.subjectId })
      .from(roleBindings)
      .where(and(eq(roleBindings.subjectType, 'user'), inArray(roleBindings.subjectId, ids)));
    return new Set([...sessions, ...bound].map((r) => r.id));
  }

  /** Ends every session of the operator; how many there were. */
  async closeSessionsOf(tx: Tx, operatorId: string): Promise<number> {
    const closed = await tx.delete(operatorSessions).where(eq(operatorSessions.operatorId, operatorId)).returning({ tokenHash: operatorSessions.tokenHash });
    return closed.length;
  }

  /** Creates the operator, or sets the password of the one with that username. */
  async upsertPassword(tx: Tx, username: string, passwordHash: string): Promise<OperatorRow> {
    const [row] = await tx
      .insert(operators)
      .values({ username, passwordHash })
      .onConflictDoUpdate({ target: operators.username, set: { passwordHash, updatedAt: new Date() } })
      .returning();
    return row;
  }

  /** Opens a session, dropping the operator's expired ones on the way. */
  async openSession(tx: Tx, operatorId: string, tokenHash: string, expiresAt: Date): Promise<OperatorSessionRow> {
    await tx.delete(operatorSessions).where(and(eq(operatorSessions.operatorId, operatorId), lt(operatorSessions.expiresAt, new Date())));
    const [session] = await tx.insert(operatorSessions).values({ operatorId, tokenHash, expiresAt }).returning();
    return session;
  }

  /** The operator holding an unexpired session with this token hash. */
  async findBySession(tokenHash: string): Promise<Pick<OperatorRow, 'id' | 'username'> | undefined> {
    const [operator] = await this.database.db
      .select({ id: operators.id, username: operators.username })
      .from(operatorSessions)
      .innerJoin(operators, eq(operators.id, operatorSessions.operatorId))
      .where(and(eq(operatorSessions.tokenHash, tokenHash), gt(operatorSessions.expiresAt, new Date())));
    return operator;
  }

  /** The closed session, or undefined when there was none. */
  async closeSession(tx: Tx, tokenHash: string): Promise<OperatorSessionRow | undefined> {
    const [session] = await tx.delete(operatorSessions).where(eq(operatorSessions.tokenHash, tokenHash)).returning();
    return session;
  }
}
