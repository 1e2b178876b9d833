import { Injectable } from '@nestjs/common';
import { and, eq, gt, lt } from 'drizzle-orm';
import { Database } from '../database/database';
import { operators, operatorSessions } from '../database/schema';

export interface OperatorRow {
  id: string;
  username: string;
  passwordHash: string;
}

@Injectable()
export class OperatorRepository {
  constructor(private readonly database: Database) {}

  async findByUsername(username: string): Promise<OperatorRow | undefined> {
    const [row] = await this.database.db.select().from(operators).where(eq(operators.username, username));
    return row;
  }

  async upsert(username: string, passwordHash: string): Promise<void> {
    await this.database.db
      .insert(operators)
      .values({ username, passwordHash })
      .onConflictDoUpdate({ target: operators.username, set: { passwordHash, updatedAt: new Date() } });
  }

  async createSession(operatorId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    const db = this.database.db;
    await db.delete(operatorSessions).where(lt(operatorSessions.expiresAt, new Date()));
    await db.insert(operatorSessions).values({ operatorId, tokenHash, expiresAt });
  }

  async findSession(tokenHash: string): Promise<{ operatorId: string; username: string } | undefined> {
    const [row] = await this.database.db
      .select({ operatorId: operators.id, username: operators.username })
      .from(operatorSessions)
      .innerJoin(operators, eq(operators.id, operatorSessions.operatorId))
      .where(and(eq(operatorSessions.tokenHash, tokenHash), gt(operatorSessions.expiresAt, new Date())));
    return row;
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.database.db.delete(operatorSessions).where(eq(operatorSessions.tokenHash, tokenHash));
  }
}
