import type { OidcClientSettings } from '@idm/domain';
import type { AuthenticatedClient, TokenClient, TokenClients } from '../serving/token-clients';

/** An error the page shows itself: the request names no registered place to send it to. */
export class UnredirectableError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** An error sent back to the client's (registered, verified) redirect URI, RFC 6749 §4.1.2.1. */
export class RedirectableError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type OidcClient = AuthenticatedClient & { readonly settings: AuthenticatedClient['settings'] & { oidc: OidcClientSettings } };

export interface AuthorizationRequest {
  client: OidcClient;
  redirectUri: string;
  state: string | null;
  scope: string;
  nonce: string | null;
  codeChallenge: string | null;
  prompt: Set<string>;
  maxAge: number | null;
  /** OIDC Core §3.1.2.1 `login_hint`: the username the login form starts with (a hint: the user may type another). */
  loginHint: string | null;
  /** RFC 9449 §10 `dpop_jkt`: the thumbprint of the DPoP key the code is bound to (its token request must prove that key). */
  dpopJkt: string | null;
}

const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** A JWK SHA-256 thumbprint (RFC 7638), base64url: what `dpop_jkt` carries. */
const JWK_THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
/** As long as a username may be; no control characters (they have no place in a form field). */
const LOGIN_HINT = /^[^\p{Cc}]{1,128}$/u;
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

/** The client of an OIDC request: a live credential of this environment with OIDC settings. */
export function oidcClientOf(clients: TokenClients, clientId: string | null): OidcClient | undefined {
  if (!clientId) return undefined;
  const client: TokenClient | undefined = clients.find(clientId);
  return client?.settings?.oidc ? (client as OidcClient) : undefined;
}

/**
 * Validates `/authorize` parameters in the order RFC 6749 §4.1.2.1 asks: client and redirect URI
 * first (their errors are shown, never redirected: an unverified redirect URI is an open
 * redirector), then everything else (sent back to the verified redirect URI with `state`).
 */
export function parseAuthorizationRequest(params: URLSearchParams, clients: TokenClients, live: (client: TokenClient) => boolean): AuthorizationRequest {
  for (const name of [
    'client_id',
    'redirect_uri',
    'response_type',
    'scope',
    'state',
    'nonce',
    'code_challenge',
    'code_challenge_method',
    'prompt',
    'max_age',
    'login_hint',
    'dpop_jkt',
  ])
    if (params.getAll(name).length > 1) throw new UnredirectableError('invalid_request', `${name} is given more than once`);
  const client = oidcClientOf(clients, params.get('client_id'));
  if (!client || !live(client)) throw new UnredirectableError('invalid_client', 'the client is unknown or not allowed to sign users in');
  const redirectUri = params.get('redirect_uri');
  // Exact string match against the registered list (no prefix, no normalization).
  if (!redirectUri || !client.settings.oidc.redirectUris.includes(redirectUri))
    throw new UnredirectableError('invalid_redirect_uri', 'the redirect_uri is not registered for this client');
  if (params.has('request') || params.has('request_uri')) throw new RedirectableError('request_not_supported', 'request objects are not supported');
  const responseType = params.get('response_type');
  if (responseType !== 'code') throw new RedirectableError('unsupported_response_type', 'only response_type=code is supported (implicit and hybrid flows are refused)');
  if (params.has('response_mode') && params.get('response_mode') !== 'query') throw new RedirectableError('invalid_request', 'only response_mode=query is supported');
  // OIDC Core §11: offline_access of a client that may not refresh is ignored, not an error.
  const scopes = (params.get('scope') ?? '').split(' ').filter((s) => s !== '' && (s !== 'offline_access' || mayRefresh(client)));
  if (!scopes.includes('openid')) throw new RedirectableError('invalid_scope', 'the openid scope is required');
  const allowed = new Set(['openid', 'profile', 'email', 'offline_access', ...client.settings.scopes]);
  if (scopes.some((s) => !allowed.has(s))) throw new RedirectableError('invalid_scope', 'the requested scope is not allowed for this client');
  const challenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (challenge !== null) {
    if (method !== 'S256') throw new RedirectableError('invalid_request', 'code_challenge_method must be S256');
    if (!PKCE_CHALLENGE.test(challenge)) throw new RedirectableError('invalid_request', 'code_challenge must be a base64url SHA-256 value');
  } else if (method !== null) throw new RedirectableError('invalid_request', 'code_challenge_method without code_challenge');
  else if (client.settings.oidc.requirePkce || client.settings.oidc.clientType === 'public')
    throw new RedirectableError('invalid_request', 'PKCE (code_challenge with S256) is required');
  const prompt = new Set((params.get('prompt') ?? '').split(' ').filter(Boolean));
  if ([...prompt].some((p) => !PROMPTS.has(p)) || (prompt.has('none') && prompt.size > 1)) throw new RedirectableError('invalid_request', 'prompt is invalid');
  const maxAgeText = params.get('max_age');
  if (maxAgeText !== null && !/^\d{1,9}$/.test(maxAgeText)) throw new RedirectableError('invalid_request', 'max_age must be a number of seconds');
  const nonce = params.get('nonce');
  const state = params.get('state');
  if ((nonce?.length ?? 0) > 512 || (state?.length ?? 0) > 2048) throw new RedirectableError('invalid_request', 'state or nonce is too long');
  const loginHint = params.get('login_hint');
  if (loginHint !== null && loginHint !== '' && !LOGIN_HINT.test(loginHint))
    throw new RedirectableError('invalid_request', 'login_hint must be at most 128 characters without control characters');
  const dpopJkt = params.get('dpop_jkt');
  if (dpopJkt !== null && !JWK_THUMBPRINT.test(dpopJkt)) throw new RedirectableError('invalid_request', 'dpop_jkt must be a base64url SHA-256 JWK thumbprint');
  return {
    client,
    redirectUri,
    state,
    scope: [...new Set(scopes)].join(' '),
    nonce,
    codeChallenge: challenge,
    prompt,
    maxAge: maxAgeText === null ? null : Number(maxAgeText),
    loginHint: loginHint || null,
    dpopJkt,
  };
}

/** Refresh tokens for `offline_access`: the client has the refresh_token grant and `refreshAllowed`. */
export function mayRefresh(client: OidcClient): boolean {
  return client.settings.refreshAllowed && client.settings.grants.includes('refresh_token');
}

/** The redirect URI with the answer's parameters (and RFC 9207 `iss`) appended to its own query. */
export function redirectTo(redirectUri: string, params: Record<string, string | null>, issuer: string): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== null) url.searchParams.set(name, value);
  url.searchParams.set('iss', issuer);
  return url.toString();
}
