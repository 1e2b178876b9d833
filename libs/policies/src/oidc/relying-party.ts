import { OpenIdProviderClient, providerErrorOf, type AuthorizationStart, type ProviderTokens } from '@idm/platform';
import * as oidc from 'openid-client';
import type { OidcConfig } from './schema';
import type { SessionTokens } from './sessions';

/** Why a login could not be completed, as the policy answers it (its reason code). */
export type LoginFailure = 'oidc_login_failed' | 'oidc_code_rejected' | 'oidc_id_token_invalid' | 'oidc_userinfo_subject_mismatch' | 'oidc_provider_unavailable';

export class LoginError extends Error {
  constructor(readonly reason: LoginFailure) {
    super(reason);
  }
}

/** What the policy starts a login with (kept in the sealed login cookie until the callback). */
export type LoginStart = AuthorizationStart;

/**
 * The policy's client of one OpenID Provider: discovery, the authorization URL and the code
 * exchange are the shared {@link OpenIdProviderClient}'s (the `oidc` identity source uses the same);
 * this adds what only a relying party with sessions needs: the session's tokens, their refresh,
 * and RP-initiated logout.
 */
export class RelyingParty {
  private readonly provider: OpenIdProviderClient;

  constructor(
    private readonly config: OidcConfig,
    clientSecret: string | null,
    private readonly now: () => number,
  ) {
    const { issuer, clientId, clockSkewSeconds, timeoutMs } = config;
    this.provider = new OpenIdProviderClient({ issuer, clientId, clientSecret, clockSkewSeconds, timeoutMs }, now);
  }

  async startLogin(redirectUri: string): Promise<LoginStart> {
    try {
      return await this.provider.startLogin(redirectUri, this.config.scopes);
    } catch (err) {
      throw loginErrorOf(err);
    }
  }

  /** The ID token's claims and the tokens once the code is exchanged and every check passed (iss, aud, exp, nonce, signature, state, PKCE). */
  async completeLogin(
    redirectUri: string,
    callbackQuery: string,
    start: { state: string; nonce: string; verifier: string },
  ): Promise<{ claims: Record<string, unknown>; tokens: SessionTokens }> {
    try {
      const { claims, tokens } = await this.provider.exchangeCode(redirectUri, callbackQuery, start);
      const completed = this.config.userinfo ? { ...(await this.userinfo(tokens.access_token, claims.sub)), ...claims } : claims;
      return { claims: completed, tokens: this.sessionTokens(tokens) };
    } catch (err) {
      throw loginErrorOf(err);
    }
  }

  /**
   * The userinfo endpoint's claims for the login's access token. Their `sub` must be the ID
   * token's (OIDC Core §5.3.2: otherwise they are about someone else and must not be used), compared
   * here rather than by openid-client so the refusal has its own reason code,
   * `oidc_userinfo_subject_mismatch`, instead of a generic validation failure.
   */
  private async userinfo(accessToken: string, sub: unknown): Promise<Record<string, unknown>> {
    if (typeof sub !== 'string') throw new LoginError('oidc_id_token_invalid');
    const claims = (await oidc.fetchUserInfo(await this.configuration(), accessToken, oidc.skipSubjectCheck)) as Record<string, unknown>;
    if (claims.sub !== sub) throw new LoginError('oidc_userinfo_subject_mismatch');
    return claims;
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

  private sessionTokens(tokens: ProviderTokens): SessionTokens {
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

  private async configuration(): Promise<oidc.Configuration> {
    try {
      return await this.provider.configuration();
    } catch (err) {
      throw loginErrorOf(err);
    }
  }
}

function loginErrorOf(err: unknown): LoginError {
  if (err instanceof LoginError) return err;
  const { failure } = providerErrorOf(err);
  return new LoginError(failure === 'unavailable' ? 'oidc_provider_unavailable' : `oidc_${failure}`);
}
