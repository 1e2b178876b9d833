import { Injectable } from '@nestjs/common';
import { and, asc, eq, gt, isNull, or } from 'drizzle-orm';
import { Database } from '../database/database';
import { environments, signingKeys } from '../database/schema';

export type SigningKeyRow = typeof signingKeys.$inferSelect;

/** Queries of the signing-key aggregate. */
@Injectable()
export class SigningKeyRepository {
  constructor(private readonly database: Database) {}

  /** Keys still published: the signer, any key waiting to activate, and retired keys whose tokens may live. */
  async publishedIn(environment: string, now = new Date()): Promise<SigningKeyRow[]> {
    const rows = await this.database.db
      .select({ key: signingKeys })
      .from(signingKeys)
      .innerJoin(environments, eq(environments.id, signingKeys.environmentId))
      .where(and(eq(environments.name, environment), or(isNull(signingKeys.publishedUntil), gt(signingKeys.publishedUntil, now))))
      .orderBy(asc(signingKeys.activatesAt));
    return rows.map((r) => r.key);
  }
}
