import { Injectable } from '@nestjs/common';
import { eq } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { projectBruteForceSettings } from '../database/schema';

export type BruteForceSettingsRow = typeof projectBruteForceSettings.$inferSelect;

/** Projects' brute-force settings (one row per project that has any). */
@Injectable()
export class BruteForceSettingsRepository {
  constructor(private readonly database: Database) {}

  async find(projectId: string, db: Reads = this.database.db, lock = false): Promise<BruteForceSettingsRow | undefined> {
    const query = db.select().from(projectBruteForceSettings).where(eq(projectBruteForceSettings.projectId, projectId));
    const [row] = await (lock ? query.for('update') : query);
    return row;
  }

  /** Every project's: what the Gateways get (a short list: projects with settings of their own). */
  all(db: Reads = this.database.db): Promise<BruteForceSettingsRow[]> {
    return db.select().from(projectBruteForceSettings);
  }

  async put(tx: Tx, projectId: string, settings: Record<string, unknown>): Promise<void> {
    await tx
      .insert(projectBruteForceSettings)
      .values({ projectId, settings })
      .onConflictDoUpdate({ target: projectBruteForceSettings.projectId, set: { settings, updatedAt: new Date() } });
  }

  /** The deleted row, or undefined when the project had none. */
  async delete(tx: Tx, projectId: string): Promise<BruteForceSettingsRow | undefined> {
    const [row] = await tx.delete(projectBruteForceSettings).where(eq(projectBruteForceSettings.projectId, projectId)).returning();
    return row;
  }
}
