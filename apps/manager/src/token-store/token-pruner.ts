import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { and, isNotNull, lt, sql } from 'drizzle-orm';
import { Database } from '../database/database';
import { oauthTokenRevocations, oauthTokens } from '../database/schema';
import { familySubject, tokenSubject } from './revocation-subject';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const TOKEN_PREFIX = tokenSubject('');
const FAMILY_PREFIX = familySubject('');
/**
 * How long a revocation outlives the last live copy it covers. Its copy's job may still be on its
 * way (jobs run concurrently and retry), and a copy is written at most seconds after its
 * revocation once the Manager processes the backlog; a day is far beyond that.
 */
export const REVOCATION_GRACE_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps the durable token tables from growing forever: expired copies answer no lookup, so they
 * go; a revocation goes once it is older than the grace and no copy it covers is still live.
 * Runs at boot and hourly (one Manager per installation, like publication).
 */
@Injectable()
export class TokenPruner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('TokenPruner');
  private timer?: NodeJS.Timeout;

  constructor(private readonly database: Database) {}

  onApplicationBootstrap(): void {
    const run = () => void this.prune().catch((err: Error) => this.logger.warn(`token prune failed: ${err.message}`));
    run();
    this.timer = setInterval(run, PRUNE_EVERY_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async prune(now = new Date()): Promise<{ copies: number; revocations: number }> {
    const db = this.database.db;
    const copies = await db.delete(oauthTokens).where(and(isNotNull(oauthTokens.expiresAt), lt(oauthTokens.expiresAt, now))).returning({ tokenHash: oauthTokens.tokenHash });
    const before = new Date(now.getTime() - REVOCATION_GRACE_MS);
    // A copy is live while it has no expiry or expires after `now`; expired ones are gone by now.
    const revocations = await db
      .delete(oauthTokenRevocations)
      .where(and(
        lt(oauthTokenRevocations.revokedAt, before),
        // Written so the copies' primary key and family index answer (subjects: revocation-subject.ts).
        sql`NOT EXISTS (SELECT 1 FROM ${oauthTokens} WHERE starts_with(${oauthTokenRevocations.subject}, ${TOKEN_PREFIX}) AND ${oauthTokens.tokenHash} = substr(${oauthTokenRevocations.subject}, ${TOKEN_PREFIX.length + 1}::int))`,
        sql`NOT EXISTS (SELECT 1 FROM ${oauthTokens} WHERE starts_with(${oauthTokenRevocations.subject}, ${FAMILY_PREFIX}) AND ${oauthTokens.familyId} = substr(${oauthTokenRevocations.subject}, ${FAMILY_PREFIX.length + 1}::int))`,
      ))
      .returning({ subject: oauthTokenRevocations.subject });
    if (copies.length + revocations.length > 0) this.logger.log(`pruned ${copies.length} expired token copies and ${revocations.length} revocations`);
    return { copies: copies.length, revocations: revocations.length };
  }
}
