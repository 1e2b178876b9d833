import type { OidcSourceConfig } from '@idm/domain';
import { OpenIdProviderClient, providerErrorOf, type AuthorizationStart } from '@idm/platform';
import { SourceUnavailableError, withinTimeout, type IdentityChecker, type SourceAnswer, type SourceIdentity } from './identity-check';
import type { EndpointGuard } from './upstream-guard';

/**
 * Why a sign-in through an external IdP failed (the error page's code): the IdP answered with an
 * error (the user cancelled, ...), refused our code, sent an ID token that does not verify (issuer,
 * audience, nonce, signature, expiry), lacked a required claim, or could not be reached.
 */
export type IdpLoginFailure = 'idp_login_failed' | 'idp_code_rejected' | 'idp_id_token_invalid' | 'idp_claims_refused' | 'idp_unavailable';

export class IdpLoginError extends Error {
  constructor(
    readonly reason: IdpLoginFailure,
    /** For operators' logs; never a token or a secret. */
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'IdpLoginError';
  }
}

/** What the Gateway keeps between the redirect to the IdP and its callback (server side, one use). */
export type IdpLoginStart = AuthorizationStart;

/**
 * An `oidc` identity source: the Gateway's client of an external OpenID Provider through
 * openid-client (authorization code with PKCE S256, state and nonce; the code exchange verifies
 * the ID token's signature, iss, aud, exp and nonce), the same client as the `oidc` RP policy's
 * ({@link OpenIdProviderClient}, libs/platform), with the upstream address policy on every
 * request and the claim mapping of identity sources. Metadata is discovered on first use, so a
 * revision activates while the IdP is down.
 *
 * As an {@link IdentityChecker} it checks no password (it has none to check): `check` only
 * proves the IdP answers its discovery, and refuses, which is what the Manager's "test
 * connection" wants; the Gateway never asks it at the password grant.
 */
export class OidcIdpSource implements IdentityChecker {
  private readonly provider: OpenIdProviderClient;

  constructor(
    readonly config: OidcSourceConfig,
    clientSecret: string | null,
    private readonly timeoutMs: number,
    guard: EndpointGuard | null = null,
    now: () => number = Date.now,
  ) {
    const { issuer, clientId, clockSkewSeconds } = config;
    this.provider = new OpenIdProviderClient({ issuer, clientId, clientSecret, clockSkewSeconds, timeoutMs, ...(guard && { guard }) }, now);
  }

  async check(): Promise<SourceAnswer> {
    try {
      await this.provider.configuration();
    } catch (err) {
      const failure = loginErrorOf(err);
      throw new SourceUnavailableError(failure.detail.includes('timeout') ? 'source_timeout' : 'source_unavailable', failure.message);
    }
    return { outcome: 'rejected' };
  }

  async close(): Promise<void> {}

  async startLogin(redirectUri: string): Promise<IdpLoginStart> {
    try {
      return await this.provider.startLogin(redirectUri, this.config.scopes);
    } catch (err) {
      throw loginErrorOf(err);
    }
  }

  /** The user as the verified ID token's claims describe them, once every check passed and the required claims hold. */
  async completeLogin(callbackUrl: URL, redirectUri: string, start: { state: string; nonce: string; verifier: string }): Promise<SourceIdentity> {
    let claims: Record<string, unknown>;
    try {
      ({ claims } = await withinTimeout('code exchange', this.timeoutMs, this.provider.exchangeCode(redirectUri, callbackUrl.search, start)));
    } catch (err) {
      throw loginErrorOf(err);
    }
    return identityOf(this.config, claims);
  }
}

/** A claim by name, or by a dotted path into nested objects (`realm_access.roles`). */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The username, email, display name and groups the mapping names; the required claims checked first. */
export function identityOf(config: OidcSourceConfig, claims: Record<string, unknown>): SourceIdentity {
  for (const [name, allowed] of Object.entries(config.requiredClaims)) {
    const value = claimAt(claims, name);
    if (value === undefined || value === null) throw new IdpLoginError('idp_claims_refused', `the ID token lacks the required claim ${name}`);
    const values = Array.isArray(value) ? value : [value];
    if (allowed.length > 0 && !values.some((v) => allowed.includes(v as string | number | boolean)))
      throw new IdpLoginError('idp_claims_refused', `the ID token's claim ${name} has none of the allowed values`);
  }
  const text = (path: string) => {
    const value = claimAt(claims, path);
    return typeof value === 'string' && value.length > 0 && value.length <= 256 && !/[\u0000-\u001f\u007f]/.test(value) ? value : null;
  };
  const username = text(config.claims.username);
  if (username === null) throw new IdpLoginError('idp_claims_refused', `the ID token has no usable username claim (${config.claims.username})`);
  const rawGroups = claimAt(claims, config.claims.groups);
  const groups = (Array.isArray(rawGroups) ? rawGroups : typeof rawGroups === 'string' ? rawGroups.split(',') : [])
    .filter((g): g is string => typeof g === 'string')
    .map((g) => g.trim())
    .filter((g) => g.length > 0 && g.length <= 256)
    .slice(0, 200);
  return { username, email: text(config.claims.email), displayName: text(config.claims.displayName), groups };
}

function loginErrorOf(err: unknown): IdpLoginError {
  if (err instanceof IdpLoginError) return err;
  if (err instanceof SourceUnavailableError) return new IdpLoginError('idp_unavailable', err.message);
  const failure = providerErrorOf(err);
  return new IdpLoginError(`idp_${failure.failure}`, failure.detail);
}
