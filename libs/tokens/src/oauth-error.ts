/**
 * The single error type of the OAuth endpoints (RFC 6749 §5.2, RFC 6750 §3.1 for invalid_token).
 * Endpoints throw it and one renderer writes `{error, error_description}` with `status`, so the
 * wire shape is decided here once. Descriptions are written for clients: they never carry
 * secrets, token values or stack traces.
 */
export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'invalid_token',
  // RFC 8628 §3.5 (OAuth Extensions Error Registry): too many failures, wait `retryAfterSeconds`.
  'slow_down',
  // RFC 9449 §12.2: a DPoP proof that does not verify, or lacks the server nonce (sent as DPoP-Nonce).
  'invalid_dpop_proof',
  'use_dpop_nonce',
  // Authorization request errors a pushed authorization request answers with (RFC 9126 §2.3): the
  // same reasons /authorize gives, in the token endpoint's JSON shape.
  'invalid_redirect_uri',
  'unsupported_response_type',
  'request_not_supported',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

const DEFAULT_STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  server_error: 500,
  temporarily_unavailable: 503,
  invalid_token: 401,
  slow_down: 429,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  invalid_redirect_uri: 400,
  unsupported_response_type: 400,
  request_not_supported: 400,
};

export interface OAuthErrorBody {
  error: OAuthErrorCode;
  error_description: string;
}

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly status: number = DEFAULT_STATUS[code],
    /** Sent as Retry-After (whole seconds) with a 429. */
    readonly retryAfterSeconds?: number,
    /** Extra answer headers (a DPoP-Nonce with use_dpop_nonce). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(`${code}: ${description}`);
    this.name = 'OAuthError';
  }

  toJSON(): OAuthErrorBody {
    return { error: this.code, error_description: this.description };
  }
}
