import * as oidc from 'openid-client';
import type { OidcSourceConfig } from '@idm/domain';
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
export interface IdpLoginStart {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

/** How long a failed discovery is remembered: the IdP is not asked again by every login while it is down. */
const RETRY_DISCOVERY_MS = 5000;

/**
 * An `oidc` identity source: the Gateway's client of an external OpenID Provider through
 * openid-client (authorization code with PKCE S256, state and nonce; the code exchange verifies
 * the ID token's signature, iss, aud, exp and nonce). It is written after the `oidc` RP policy's
 * `RelyingParty` (libs/policies/src/oidc) rather than importing it: that policy's client is
 * shaped by its own config and evolves with it, and this one adds the upstream address policy
 * on every request and the claim mapping of identity sources. Metadata is discovered on first use,
 * so a revision activates while the IdP is down.
 *
 * As an {@link IdentityChecker} it checks no password (it has none to check): `check` only
 * proves the IdP answers its discovery, and refuses, which is what the Manager's "test
 * connection" wants; the Gateway never asks it at the password grant.
 */
export class OidcIdpSource implements IdentityChecker {
  private discovered: Promise<oidc.Configuration> | null = null;
  private failedAt = 0;

  constructor(
    readonly config: OidcSourceConfig,
    private readonly clientSecret: string | null,
    private readonly timeoutMs: number,
    private readonly guard: EndpointGuard | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  async check(): Promise<SourceAnswer> {
    try {
      await this.configuration();
    } catch (err) {
      throw new SourceUnavailableError(err instanceof IdpLoginError && err.detail.includes('timeout') ? 'source_timeout' : 'source_unavailable', (err as Error).message);
    }
    return { outcome: 'rejected' };
  }

  async close(): Promise<void> {}

  async startLogin(redirectUri: string): Promise<IdpLoginStart> {
    const configuration = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: this.config.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, state, nonce, verifier };
  }

  /** The user as the verified ID token's claims describe them, once every check passed and the required claims hold. */
  async completeLogin(callbackUrl: URL, redirectUri: string, start: { state: string; nonce: string; verifier: string }): Promise<SourceIdentity> {
    const configuration = await this.configuration();
    let claims: Record<string, unknown>;
    try {
      // openid-client takes the redirect_uri of the exchange from the callback URL: our own one, whatever host the browser used.
      const callback = new URL(redirectUri);
      callback.search = callbackUrl.search;
      const tokens = await withinTimeout(
        'code exchange',
        this.timeoutMs,
        oidc.authorizationCodeGrant(configuration, callback, {
          pkceCodeVerifier: start.verifier,
          expectedState: start.state,
          expectedNonce: start.nonce,
          idTokenExpected: true,
        }),
      );
      const idClaims = tokens.claims();
      if (idClaims === undefined) throw new IdpLoginError('idp_id_token_invalid', 'no ID token');
      claims = idClaims as Record<string, unknown>;
    } catch (err) {
      throw loginErrorOf(err);
    }
    return identityOf(this.config, claims);
  }

  private configuration(): Promise<oidc.Configuration> {
    if (this.discovered !== null && (this.failedAt === 0 || this.now() - this.failedAt < RETRY_DISCOVERY_MS)) return this.discovered;
    this.failedAt = 0;
    const { issuer, clientId, clockSkewSeconds } = this.config;
    const auth = this.clientSecret === null ? oidc.None() : oidc.ClientSecretBasic(this.clientSecret);
    const insecure = new URL(issuer).protocol === 'http:'; // loopback only (the schema's rule)
    const timeout = Math.max(1, Math.ceil(this.timeoutMs / 1000));
    const discovered = oidc
      .discovery(new URL(issuer), clientId, { [oidc.clockTolerance]: clockSkewSeconds }, auth, {
        timeout,
        [oidc.customFetch]: this.guardedFetch(),
        ...(insecure && { execute: [oidc.allowInsecureRequests] }),
      })
      .then((configuration) => {
        configuration.timeout = timeout;
        configuration[oidc.customFetch] = this.guardedFetch();
        return configuration;
      });
    discovered.catch(() => {
      this.failedAt = this.now();
    });
    this.discovered = discovered.catch((err: unknown) => {
      throw new IdpLoginError('idp_unavailable', `discovery of ${issuer} failed: ${(err as Error)?.message ?? String(err)}`);
    });
    return this.discovered;
  }

  /** Every request to the IdP (discovery, JWKS, token endpoint) is held to the upstream address policy first, as the other sources' servers are. */
  private guardedFetch(): oidc.CustomFetch {
    return async (url, options) => {
      if (this.guard) {
        const target = new URL(url);
        const refusal = await this.guard(target.hostname.replace(/^\[|\]$/g, ''), Number(target.port) || (target.protocol === 'https:' ? 443 : 80));
        if (refusal) throw new IdpLoginError('idp_unavailable', `the upstream address policy refuses ${target.host}: ${refusal}`);
      }
      return fetch(url, options as RequestInit);
    };
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
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof oidc.AuthorizationResponseError) return new IdpLoginError('idp_login_failed', `the IdP answered ${err.error}`);
  // The token endpoint's refusal: a replayed, expired or foreign code, a wrong PKCE verifier.
  if (err instanceof oidc.ResponseBodyError) return err.status >= 500 ? new IdpLoginError('idp_unavailable', message) : new IdpLoginError('idp_code_rejected', message);
  if (err instanceof TypeError) return new IdpLoginError('idp_unavailable', message);
  const code = (err as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT' || code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON')
    return new IdpLoginError('idp_unavailable', message);
  return new IdpLoginError('idp_id_token_invalid', message);
}
