import * as oidc from 'openid-client';

/**
 * What went wrong with an OpenID Provider, in the words both of its clients (the `oidc` RP policy
 * and the `oidc` identity source) turn into their own reason codes: the OP answered the
 * authorization with an error (the user cancelled, ...), refused our code or refresh token, sent
 * an ID token that does not verify, or could not be reached (down, timeout, not conforming,
 * refused by the upstream address policy).
 */
export type ProviderFailure = 'login_failed' | 'code_rejected' | 'id_token_invalid' | 'unavailable';

export class ProviderError extends Error {
  constructor(
    readonly failure: ProviderFailure,
    /** For operators' logs; never a token or a secret. */
    readonly detail: string,
  ) {
    super(`${failure}: ${detail}`);
    this.name = 'ProviderError';
  }
}

/** How the Gateway reaches one OP as its client. */
export interface ProviderClientSettings {
  /** Its metadata is discovered at `<issuer>/.well-known/openid-configuration`; http only on loopback (the callers' schemas' rule). */
  issuer: string;
  clientId: string;
  /** client_secret_basic; null: a public client (PKCE only). */
  clientSecret: string | null;
  /** openid-client's tolerance for the ID token's exp/iat/nbf. */
  clockSkewSeconds: number;
  /** Of every call to the OP (discovery, JWKS, token and userinfo endpoints). */
  timeoutMs: number;
  /** Asked before every request to the OP: a refusal's reason (the upstream address policy), or null. */
  guard?: (host: string, port: number) => Promise<string | null>;
}

/** What a login is started with and must be completed with (kept by the caller until the callback). */
export interface AuthorizationStart {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export type ProviderTokens = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

/** How long a failed discovery is remembered: the OP is not asked again by every request while it is down. */
const RETRY_DISCOVERY_MS = 5000;

/**
 * The Gateway's client of one OpenID Provider through openid-client, shared by the `oidc` RP
 * policy and the `oidc` identity source: metadata discovered on first use (not at compile time:
 * a revision must activate while the OP is down) and remembered, a failed discovery retried after
 * 5 s; client authentication; every request held to the caller's address guard and timeout;
 * authorization URLs with PKCE (S256), state and nonce; the code exchange with the ID token's
 * validation (signature, iss, aud, exp, nonce, state).
 */
export class OpenIdProviderClient {
  private discovered: Promise<oidc.Configuration> | null = null;
  private failedAt = 0;

  constructor(
    private readonly settings: ProviderClientSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async startLogin(redirectUri: string, scopes: readonly string[]): Promise<AuthorizationStart> {
    const configuration = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, state, nonce, verifier };
  }

  /**
   * The tokens and the verified ID token's claims for the callback's query. The exchange's
   * redirect_uri is our own `redirectUri`, whatever host the browser used.
   */
  async exchangeCode(
    redirectUri: string,
    callbackQuery: string,
    start: { state: string; nonce: string; verifier: string },
  ): Promise<{ claims: Record<string, unknown>; tokens: ProviderTokens }> {
    const configuration = await this.configuration();
    const callback = new URL(redirectUri);
    callback.search = callbackQuery;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: start.verifier,
        expectedState: start.state,
        expectedNonce: start.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (claims === undefined) throw new ProviderError('id_token_invalid', 'no ID token');
      return { claims: claims as Record<string, unknown>, tokens };
    } catch (err) {
      throw providerErrorOf(err);
    }
  }

  /** The OP's metadata and client, discovered once (a failure: `ProviderError('unavailable')`, asked again after 5 s). */
  configuration(): Promise<oidc.Configuration> {
    if (this.discovered !== null && (this.failedAt === 0 || this.now() - this.failedAt < RETRY_DISCOVERY_MS)) return this.discovered;
    this.failedAt = 0;
    const { issuer, clientId, clientSecret, clockSkewSeconds } = this.settings;
    const auth = clientSecret === null ? oidc.None() : oidc.ClientSecretBasic(clientSecret);
    const insecure = new URL(issuer).protocol === 'http:'; // loopback only (the callers' schemas' rule)
    const timeout = Math.max(1, Math.ceil(this.settings.timeoutMs / 1000));
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
      throw new ProviderError('unavailable', `discovery of ${issuer} failed: ${(err as Error)?.message ?? String(err)}`);
    });
    return this.discovered;
  }

  /** Every request to the OP (discovery, JWKS, token endpoint) is held to the address guard first. */
  private guardedFetch(): oidc.CustomFetch {
    const { guard } = this.settings;
    return async (url, options) => {
      if (guard) {
        const target = new URL(url);
        const refusal = await guard(target.hostname.replace(/^\[|\]$/g, ''), Number(target.port) || (target.protocol === 'https:' ? 443 : 80));
        if (refusal) throw new ProviderError('unavailable', `the upstream address policy refuses ${target.host}: ${refusal}`);
      }
      return fetch(url, options as RequestInit);
    };
  }
}

/** An error of openid-client (or of the OP behind it) as a {@link ProviderError}. */
export function providerErrorOf(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof oidc.AuthorizationResponseError) return new ProviderError('login_failed', `the OP answered ${err.error}`);
  // The token endpoint's refusal: a replayed, expired or foreign code, a wrong PKCE verifier, a revoked refresh token.
  if (err instanceof oidc.ResponseBodyError) return new ProviderError(err.status >= 500 ? 'unavailable' : 'code_rejected', message);
  if (err instanceof TypeError) return new ProviderError('unavailable', message);
  const code = (err as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT' || code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON')
    return new ProviderError('unavailable', message);
  return new ProviderError('id_token_invalid', message);
}
