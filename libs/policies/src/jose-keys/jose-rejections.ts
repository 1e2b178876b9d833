import type { PolicyRejection } from '../policy';
import { REJECTION_REASONS, type RejectionCode } from '../rejection-reasons';
import { JwksUnavailableError } from './remote-jwks';

/** Frozen rejections with the default message, one per code (a message naming request input is never cached). */
const cache = new Map<RejectionCode, PolicyRejection>();
export function joseRejection(code: RejectionCode, message?: string): PolicyRejection {
  if (message !== undefined) return { status: REJECTION_REASONS[code].statuses[0], code, message };
  let r = cache.get(code);
  if (!r) cache.set(code, (r = Object.freeze({ status: REJECTION_REASONS[code].statuses[0], code, message: code.replaceAll('_', ' ') })));
  return r;
}

/** jose's stable `err.code` values -> reason codes (never its message text). */
const BY_JOSE_CODE: Record<string, RejectionCode> = {
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'jose_signature_invalid',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'jose_signature_invalid',
  ERR_JWE_DECRYPTION_FAILED: 'jose_decryption_failed',
  ERR_JOSE_ALG_NOT_ALLOWED: 'jose_algorithm_not_allowed',
  ERR_JOSE_NOT_SUPPORTED: 'jose_algorithm_not_allowed',
  ERR_JWT_EXPIRED: 'jose_token_expired',
  ERR_JWT_CLAIM_VALIDATION_FAILED: 'jose_claims_invalid',
  ERR_JWT_INVALID: 'jose_claims_invalid',
  ERR_JWKS_NO_MATCHING_KEY: 'jose_key_not_found',
  ERR_JWS_INVALID: 'jose_token_invalid',
  ERR_JWE_INVALID: 'jose_token_invalid',
  IDM_X5C_UNTRUSTED: 'jose_certificate_untrusted',
};

export function rejectionOfJoseFailure(err: unknown): PolicyRejection {
  if (err instanceof JwksUnavailableError) return joseRejection('jose_keys_unavailable', 'the partner key set cannot be fetched');
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && BY_JOSE_CODE[code]) {
    // Which claim failed is useful to the caller and no secret; jose names it in `claim`.
    const claim = (err as { claim?: unknown }).claim;
    return joseRejection(BY_JOSE_CODE[code], typeof claim === 'string' ? `${BY_JOSE_CODE[code].replaceAll('_', ' ')}: ${claim}` : undefined);
  }
  // jose refuses a key of the wrong type for the header's alg with a TypeError: algorithm confusion.
  if (err instanceof TypeError) return joseRejection('jose_algorithm_not_allowed', 'the key cannot be used with this algorithm');
  return joseRejection('jose_token_invalid');
}
