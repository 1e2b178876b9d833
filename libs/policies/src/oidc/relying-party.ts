import * as oidc from 'openid-client';
import type { OidcConfig } from './schema';
import type { SessionTokens } from './sessions';

/** Why a login could not be completed, as the policy answers it (its reason code). */
export type LoginFailure = 'oidc_login_failed' | 'oidc_code_rejected' | 'oidc_id_token_invalid' | 'oidc_provider_unavailable';

export class LoginError extends Error {
  constructor(readonly reason: LoginFailure) {
    super(reason);
  }
}

/** What the policy starts a login with (kept in the sealed login cookie until the callback). */
export interface LoginStart {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

/** How long a failed discovery is remembered: the OP is not asked again by every request while it is down. */
const RETRY_DISCOVERY_MS = 5000;

/**
 * The policy's client of one OpenID Provider, through openid-client: metadata discovered on first
 * use (not at compile time: a revision must activate while the OP is down), authorization URLs
 * with PKCE (S256), state and nonce, and the code exchange with ID token validation.
 */
export class RelyingParty {
  private discovered: Promise<oidc.Configuration> | null = null;
  private failedAt = 0;

  constructor(
    private readonly config: OidcConfig,
    private readonly clientSecret: string | null,
    private readonly now: () => number,
  ) {}

  async startLogin(redirectUri: string): Promise<LoginStart> {
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

  /** The ID token's claims and the tokens once the code is exchanged and every check passed (iss, aud, exp, nonce, signature, state, PKCE). */
  async completeLogin(callbackUrl: URL, start: { state: string; nonce: string; verifier: string }): Promise<{ claims: Record<string, unknown>; tokens: SessionTokens }> {
    const configuration = await this.configuration();
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: start.verifier,
        expectedState: start.state,
        expectedNonce: start.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (claims === undefined) throw new LoginError('oidc_id_token_invalid');
      return { claims: claims as Record<string, unknown>, tokens: this.sessionTokens(tokens) };
    } catch (err) {
      throw loginErrorOf(err);
    }
  }

  /**
   * New tokens for a refresh token (RFC 6749 §6). A refresh token the OP refuses (revoked,
   * expired, rotated away) is `oidc_code_rejected`. The ID token, when the OP sends one, is
   * validated by openid-client (same `sub`); the old one is kept otherwise (it stays the logout hint).
   */
  async refresh(refreshToken: string, previous: SessionTokens): Promise<SessionTokens> {
    const configuration = await this.configuration();
    try {
      const tokens = await oidc.refreshTokenGrant(configuration, refreshToken);
      const next = this.sessionTokens(tokens);
      return { ...next, idToken: next.idToken ?? previous.idToken, refreshToken: next.refreshToken ?? refreshToken };
    } catch (err) {
      throw loginErrorOf(err);
    }
  }

  private sessionTokens(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): SessionTokens {
    const expiresIn = tokens.expiresIn();
    return {
      ...(tokens.id_token !== undefined && { idToken: tokens.id_token }),
      ...(this.config.forwardAccessToken && {
        accessToken: tokens.access_token,
        ...(expiresIn !== undefined && { accessTokenExpiresAt: this.now() + expiresIn * 1000 }),
        ...(tokens.refresh_token !== undefined && { refreshToken: tokens.refresh_token }),
      }),
    };
  }

  /** The OP's end-session URL (RP-initiated logout, with the session's ID token as `id_token_hint`), or null when it has none. */
  async logoutUrl(idTokenHint: string | undefined): Promise<URL | null> {
    const configuration = await this.configuration();
    if (configuration.serverMetadata().end_session_endpoint === undefined) return null;
    return oidc.buildEndSessionUrl(configuration, {
      client_id: this.config.clientId,
      ...(idTokenHint !== undefined && { id_token_hint: idTokenHint }),
      ...(this.config.postLogoutRedirectUri !== undefined && { post_logout_redirect_uri: this.config.postLogoutRedirectUri }),
    });
  }

  private configuration(): Promise<oidc.Configuration> {
    if (this.discovered !== null && (this.failedAt === 0 || this.now() - this.failedAt < RETRY_DISCOVERY_MS)) return this.discovered;
    this.failedAt = 0;
    const { issuer, clientId, timeoutMs, clockSkewSeconds } = this.config;
    const auth = this.clientSecret === null ? oidc.None() : oidc.ClientSecretBasic(this.clientSecret);
    const insecure = new URL(issuer).protocol === 'http:'; // loopback only (the schema's rule)
    const discovered = oidc
      .discovery(
        new URL(issuer),
        clientId,
        // openid-client's tolerance for the ID token's exp/iat/nbf.
        { [oidc.clockTolerance]: clockSkewSeconds },
        auth,
        { timeout: Math.ceil(timeoutMs / 1000), ...(insecure && { execute: [oidc.allowInsecureRequests] }) },
      )
      .then((configuration) => {
        configuration.timeout = Math.ceil(timeoutMs / 1000);
        return configuration;
      });
    discovered.catch(() => {
      this.failedAt = this.now();
    });
    this.discovered = discovered.catch(() => {
      throw new LoginError('oidc_provider_unavailable');
    });
    return this.discovered;
  }
}

function loginErrorOf(err: unknown): LoginError {
  if (err instanceof LoginError) return err;
  if (err instanceof oidc.AuthorizationResponseError) return new LoginError('oidc_login_failed');
  // The token endpoint's refusal: a replayed, expired or foreign code, a wrong PKCE verifier.
  if (err instanceof oidc.ResponseBodyError) return err.status >= 500 ? new LoginError('oidc_provider_unavailable') : new LoginError('oidc_code_rejected');
  if (err instanceof TypeError) return new LoginError('oidc_provider_unavailable');
  const code = (err as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT' || code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
    return new LoginError('oidc_provider_unavailable');
  }
  return new LoginError('oidc_id_token_invalid');
}
