import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { refusalReason, TOKEN_LOOKUP, tokenLookupRequestSchema, type TokenLookupReply } from '@idm/config-bus';
import { OAuthTokenRepository } from '../repositories/oauth-token.repository';
import { subjectsOf } from './revocation-subject';

/** Answers Gateways whose Redis lost a token: the durable copy, unless revoked or expired. */
@Controller()
export class TokenLookupController {
  private readonly logger = new Logger('TokenLookup');

  constructor(private readonly tokens: OAuthTokenRepository) {}

  @MessagePattern(TOKEN_LOOKUP)
  async lookup(@Payload() payload: unknown): Promise<TokenLookupReply> {
    const parsed = tokenLookupRequestSchema.safeParse(payload);
    if (!parsed.success) {
      this.logger.warn(`malformed tokens.lookup request answered with null: ${refusalReason(parsed.error)}`);
      return null;
    }
    const request = parsed.data;
    const row = await this.tokens.findCopy(request.tokenHash, request.environment);
    if (!row || (row.expiresAt && row.expiresAt <= new Date())) return null;
    if (await this.tokens.anyRevoked(subjectsOf(row))) return null;
    return { kind: row.kind, familyId: row.familyId, record: row.record, expiresAt: row.expiresAt ? row.expiresAt.getTime() : null };
  }
}
