import { Injectable } from '@nestjs/common';
import { and, asc, desc, eq, isNotNull, isNull, lte } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { signingKeys } from '../database/schema';
import { EntityRepository } from './entity.repository';

export type SigningKeyRow = typeof signingKeys.$inferSelect;

/**
 * Queries of environment signing keys. A key is published until `published_until` (null: not
 * replaced) and signs from `activates_at`. Writes take the transaction of a ChangeWriter change.
 */
@Injectable()
export class SigningKeyRepository extends EntityRepository<typeof signingKeys> {
  constructor(database: Database) {
    super(signingKeys, database);
  }

  /** The environment's keys, newest activation first. */
  listFor(environmentId: string): Promise<SigningKeyRow[]> {
    return this.database.db.select().from(signingKeys).where(eq(signingKeys.environmentId, environmentId)).orderBy(desc(signingKeys.activatesAt));
  }

  async hasAny(tx: Tx, environmentId: string): Promise<boolean> {
    const [existing] = await tx.select({ id: signingKeys.id }).from(signingKeys).where(eq(signingKeys.environmentId, environmentId)).limit(1);
    return !!existing;
  }

  /** The latest unreplaced key that signs by `activatesAt`, if any. */
  async current(tx: Tx, environmentId: string, activatesAt: Date): Promise<SigningKeyRow | undefined> {
    const [row] = await tx
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.environmentId, environmentId), isNull(signingKeys.publishedUntil), lte(signingKeys.activatesAt, activatesAt)))
      .orderBy(desc(signingKeys.activatesAt));
    return row;
  }

  /** Retires every unreplaced key of the environment at `publishedUntil`. */
  async retireUnreplaced(tx: Tx, environmentId: string, publishedUntil: Date): Promise<void> {
    await tx
      .update(signingKeys)
      .set({ publishedUntil })
      .where(and(eq(signingKeys.environmentId, environmentId), isNull(signingKeys.publishedUntil)));
  }

  /** The earliest retirement of any key, or undefined when none is scheduled. */
  async nextRetirement(): Promise<Date | undefined> {
    const [next] = await this.database.db
      .select({ at: signingKeys.publishedUntil })
      .from(signingKeys)
      .where(isNotNull(signingKeys.publishedUntil))
      .orderBy(asc(signingKeys.publishedUntil))
      .limit(1);
    return next?.at ?? undefined;
  }

  /** The ids of the keys past their publication at `now`. */
  async retiredIds(now: Date): Promise<string[]> {
    const due = await this.database.db
      .select({ id: signingKeys.id })
      .from(signingKeys)
      .where(and(isNotNull(signingKeys.publishedUntil), lte(signingKeys.publishedUntil, now)));
    return due.map((d) => d.id);
  }

  /** Deletes the key if it is still past its publication at `now`; the deleted row, or undefined. */
  async deleteRetired(tx: Tx, id: string, now: Date): Promise<SigningKeyRow | undefined> {
    const [row] = await tx
      .delete(signingKeys)
      .where(and(eq(signingKeys.id, id), lte(signingKeys.publishedUntil, now)))
      .returning();
    return row;
  }

  /** Every private key (sealed), locked (master-key rotation reseals them). */
  privateKeysForUpdate(tx: Tx): Promise<Pick<SigningKeyRow, 'id' | 'privateKey'>[]> {
    return tx.select({ id: signingKeys.id, privateKey: signingKeys.privateKey }).from(signingKeys).for('update');
  }
}
