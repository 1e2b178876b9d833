import { OAuthError } from './oauth-error';

/**
 * Why a bearer token was refused, as data: a stable `reason` for analytics and tests, and a
 * fixed client-facing description that never echoes the token or key details. One frozen
 * instance per reason, so rejecting costs no allocation on the request path.
 */
export const TOKEN_REJECTION_REASONS = [
  'malformed',
  'unknown_kid',
  'algorithm_not_allowed',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'wrong_type',
  'revoked',
] as const;
export type TokenRejectionReason = (typeof TOKEN_REJECTION_REASONS)[number];

const DESCRIPTIONS: Record<TokenRejectionReason, string> = {
  malformed: 'the token is not a well-formed JWT',
  unknown_kid: 'the token was not signed by a known key',
  algorithm_not_allowed: 'the token algorithm is not allowed for its key',
  bad_signature: 'the token signature is invalid',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet',
  wrong_issuer: 'the token was issued by another issuer',
  wrong_audience: 'the token is not meant for this audience',
  wrong_type: 'the token is not an access token',
  revoked: 'the token has been revoked',
};

export class TokenRejection {
  private constructor(
    readonly reason: TokenRejectionReason,
    readonly description: string,
  ) {
    Object.freeze(this);
  }

  private static readonly byReason = new Map(TOKEN_REJECTION_REASONS.map((r) => [r, new TokenRejection(r, DESCRIPTIONS[r])]));

  static of(reason: TokenRejectionReason): TokenRejection {
    return TokenRejection.byReason.get(reason)!;
  }

  /** RFC 6750 §3.1: every refusal of a presented bearer token is `invalid_token` with 401. */
  toOAuthError(): OAuthError {
    return new OAuthError('invalid_token', this.description, 401);
  }
}
