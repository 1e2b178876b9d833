import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { refusalReason, TOKEN_LOOKUP, tokenLookupRequestSchema, type TokenLookupReply } from '@idm/config-bus';
import { and, eq, inArray } from 'drizzle-orm';
import { Database } from '../database/database';
import { oauthTokenRevocations, oauthTokens } from '../database/schema';
import { subjectsOf } from './revocation-subject';

/** Answers Gateways whose Redis lost a token: the durable copy, unless revoked or expired. */
@Controller()
export class TokenLookupController {
  private readonly logger = new Logger('TokenLookup');

  constructor(private readonly database: Database) {}

  @MessagePattern(TOKEN_LOOKUP)
  async lookup(@Payload() payload: unknown): Promise<TokenLookupReply> {
    const parsed = tokenLookupRequestSchema.safeParse(payload);
    if (!parsed.success) {
      this.logger.warn(`malformed tokens.lookup request answered with null: ${refusalReason(parsed.error)}`);
      return null;
    }
    const request = parsed.data;
    const [row] = await this.database.db
      .select()
      .from(oauthTokens)
      .where(and(eq(oauthTokens.tokenHash, request.tokenHash), eq(oauthTokens.environment, request.environment)));
    if (!row || (row.expiresAt && row.expiresAt <= new Date())) return null;
    const [revoked] = await this.database.db.select().from(oauthTokenRevocations).where(inArray(oauthTokenRevocations.subject, subjectsOf(row))).limit(1);
    if (revoked) return null;
    return { kind: row.kind, familyId: row.familyId, record: row.record, expiresAt: row.expiresAt ? row.expiresAt.getTime() : null };
  }
}
