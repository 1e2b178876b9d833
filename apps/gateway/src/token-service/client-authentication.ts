import { OAuthError } from '@idm/tokens';

/**
 * Client credentials of a token request (RFC 6749 §2.3.1): HTTP Basic (form-urlencoded id and
 * secret) or `client_id`/`client_secret` parameters, never both.
 */
export interface PresentedClient {
  clientId: string;
  clientSecret: string;
}

export function presentedClient(authorization: string | undefined, params: URLSearchParams): PresentedClient {
  const basic = typeof authorization === 'string' && /^basic /i.test(authorization) ? authorization.slice(6).trim() : null;
  const inBody = params.has('client_id') || params.has('client_secret');
  if (basic !== null && inBody) throw new OAuthError('invalid_request', 'client authentication must use one method, not both HTTP Basic and body parameters');
  if (basic !== null) return decodeBasic(basic);
  const clientId = params.get('client_id');
  const clientSecret = params.get('client_secret');
  if (!clientId || !clientSecret) throw new OAuthError('invalid_client', 'client authentication is required');
  return { clientId, clientSecret };
}

function decodeBasic(encoded: string): PresentedClient {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new OAuthError('invalid_client', 'the Basic credentials are malformed');
  try {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    return { clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    throw new OAuthError('invalid_client', 'the Basic credentials are malformed');
  }
}
