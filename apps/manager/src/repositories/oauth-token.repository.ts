import { Injectable } from '@nestjs/common';
import { and, eq, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { Database } from '../database/database';
import { oauthTokenRevocations, oauthTokens } from '../database/schema';

export type OAuthTokenRow = typeof oauthTokens.$inferSelect;
export type NewOAuthTokenRow = typeof oauthTokens.$inferInsert;

/**
 * The durable token store: copies of opaque tokens and revocations, each a fact of its own (keyed
 * by a subject, see token-store/revocation-subject.ts). Written by the token jobs, not by changes.
 */
@Injectable()
export class OAuthTokenRepository {
  constructor(private readonly database: Database) {}

  /** A job may run twice: the first copy stays. */
  async insertCopy(values: NewOAuthTokenRow): Promise<void> {
    await this.database.db.insert(oauthTokens).values(values).onConflictDoNothing();
  }

  async revoke(subject: string): Promise<void> {
    await this.database.db.insert(oauthTokenRevocations).values({ subject }).onConflictDoNothing();
  }

  async findCopy(tokenHash: string, environment: string): Promise<OAuthTokenRow | undefined> {
    const [row] = await this.database.db
      .select()
      .from(oauthTokens)
      .where(and(eq(oauthTokens.tokenHash, tokenHash), eq(oauthTokens.environment, environment)));
    return row;
  }

  async anyRevoked(subjects: string[]): Promise<boolean> {
    const [revoked] = await this.database.db.select().from(oauthTokenRevocations).where(inArray(oauthTokenRevocations.subject, subjects)).limit(1);
    return !!revoked;
  }

  /** Deletes the copies expired before `now`; how many. */
  async deleteExpiredCopies(now: Date): Promise<number> {
    const copies = await this.database.db
      .delete(oauthTokens)
      .where(and(isNotNull(oauthTokens.expiresAt), lt(oauthTokens.expiresAt, now)))
      .returning({ tokenHash: oauthTokens.tokenHash });
    return copies.length;
  }

  /**
   * Deletes the revocations made before `before` that cover no stored copy (subjects are
   * `<tokenPrefix><hash>` or `<familyPrefix><family id>`); how many.
   */
  async deleteUncoveringRevocations(before: Date, prefixes: { token: string; family: string }): Promise<number> {
    const revocations = await this.database.db
      .delete(oauthTokenRevocations)
      .where(
        and(
          lt(oauthTokenRevocations.revokedAt, before),
          // Written so the copies' primary key and family index answer.
          sql`NOT EXISTS (SELECT 1 FROM ${oauthTokens} WHERE starts_with(${oauthTokenRevocations.subject}, ${prefixes.token}) AND ${oauthTokens.tokenHash} = substr(${oauthTokenRevocations.subject}, ${prefixes.token.length + 1}::int))`,
          sql`NOT EXISTS (SELECT 1 FROM ${oauthTokens} WHERE starts_with(${oauthTokenRevocations.subject}, ${prefixes.family}) AND ${oauthTokens.familyId} = substr(${oauthTokenRevocations.subject}, ${prefixes.family.length + 1}::int))`,
        ),
      )
      .returning({ subject: oauthTokenRevocations.subject });
    return revocations.length;
  }
}
