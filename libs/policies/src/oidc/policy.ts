import { credentialRefusal, establish } from '../authentication/establish';
import { CREDENTIAL_STATE_MESSAGES } from '../authentication/standard-rejections';
import type { PolicyCompileDeps, PolicyCompiler } from '../compile-dependencies';
import { currentVersion, openKeyVersions } from '../jose-keys/key-versions';
import type { Policy, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { PolicyConfigError } from '../policy-config.error';
import type { RejectionCode } from '../rejection-reasons';
import { LoginError, RelyingParty } from './relying-party';
import { safeReturnTo } from './return-to';
import type { OidcConfig } from './schema';
import { CookieSealer, cookieOf, cookiesWithout, setCookie } from './sealed-cookie';
import { OidcSessions, SessionStoreUnavailable, type LiveSession, type SessionRecord } from './sessions';

/** What the login cookie holds between the redirect to the OP and the callback. */
interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  exp: number;
}

const MESSAGES: Partial<Record<RejectionCode, string>> = {
  oidc_session_required: 'Log in first: this API needs a session (open it in a browser, or use its login path)',
  oidc_session_invalid: 'The session cookie is not valid here (tampered, of another proxy, or its key was retired)',
  oidc_session_ended: 'The session ended (logged out, idle too long, or past its lifetime): log in again',
  oidc_session_store_unavailable: 'Sessions cannot be checked right now (the session store does not answer)',
  oidc_logout_cross_site: 'Logout must start from this site (a cross-site request cannot end the session)',
  oidc_state_mismatch: 'The login response does not belong to a login started by this browser',
  oidc_login_failed: 'The identity provider did not log the user in',
  oidc_code_rejected: 'The identity provider refused the authorization code (used, expired or not issued to this client)',
  oidc_id_token_invalid: 'The ID token failed validation',
  oidc_userinfo_subject_mismatch: 'The identity provider described another user at its userinfo endpoint than in the ID token',
  oidc_provider_unavailable: 'The identity provider cannot be reached',
  oidc_invalid_return_to: 'return_to must be a path of this API',
  oidc_credential_unknown: 'The logged-in user has no credential for this API',
  ...CREDENTIAL_STATE_MESSAGES,
};

/**
 * The Gateway as OpenID Connect relying party in front of a browser application. Requests with a
 * live session (a sealed session id in the cookie, the session in the shared store: see
 * OidcSessions) go upstream with the user's claims as headers; a browser without one is
 * sent to the OP (authorization code + PKCE, state, nonce), an API client gets 401. The callback,
 * login and logout paths under the proxy's base path are answered by the policy itself.
 *
 * Redirects are answered as "rejections" with status 302 (reason `oidc_redirect`): the chain's one
 * way to answer a request without forwarding it.
 */
export class OidcPolicy implements Policy {
  readonly type = 'oidc';
  /**
   * A live session is the request's authentication: its requests are recorded as successes (auth
   * records, with the user id claim as username) like any authenticating policy's. The credential
   * rules step that follows finds no credential (a session is none) and lets the request on.
   */
  readonly authenticates = true;
  readonly upstreamHeaderNames: readonly string[];
  private readonly rp: RelyingParty;
  private readonly sealer: CookieSealer;
  private readonly sessions: OidcSessions;
  private readonly loginCookie: string;
  private readonly base: string;
  private readonly forwardedClaims: string[];
  private readonly credentialStates: Record<'credential_disabled' | 'credential_expired', PolicyRejection>;

  constructor(
    private readonly config: OidcConfig,
    private readonly deps: PolicyCompileDeps,
  ) {
    const clientSecret = config.clientSecretId === undefined ? null : sharedSecretText(config.clientSecretId, deps);
    this.rp = new RelyingParty(config, clientSecret, deps.now);
    const versions = openKeyVersions(config.cookieSecretId, deps.projectSecrets, deps.secrets, deps.now());
    try {
      this.sealer = new CookieSealer(versions, deps.proxy.id, deps.now);
    } catch (err) {
      throw new PolicyConfigError([{ path: ['cookieSecretId'], message: (err as Error).message }]);
    }
    if (!deps.oidcSessions) throw new PolicyConfigError([{ path: [], message: 'oidc needs a session store, and this gateway has none' }]);
    this.sessions = new OidcSessions(deps.oidcSessions, this.sealer, deps.proxy.id, config.cookieName, config.idleTimeoutSeconds * 1000, config.sessionTtlSeconds * 1000, deps.now);
    this.loginCookie = `${config.cookieName}_LOGIN`;
    this.credentialStates = { credential_disabled: this.refuse('credential_disabled', 401), credential_expired: this.refuse('credential_expired', 401) };
    this.base = deps.proxy.basePath;
    // A client's own Authorization never reaches the upstream when the policy puts the user's token there.
    this.upstreamHeaderNames = [...Object.values(config.claimHeaders), ...(config.forwardAccessToken ? ['authorization'] : [])];
    this.forwardedClaims = [
      ...new Set([
        config.userIdClaim,
        ...(config.rolesClaim ? [config.rolesClaim] : []),
        ...(config.credentialClaim ? [config.credentialClaim] : []),
        ...Object.keys(config.claimHeaders),
      ]),
    ];
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const own = ctx.path.startsWith(this.base) ? ctx.path.slice(this.base.length) : ctx.path;
    if (own === this.config.callbackPath) return this.callback(ctx);
    if (own === this.config.loginPath) {
      const asked = new URLSearchParams(ctx.query).get('return_to');
      const returnTo = asked === null ? this.base + '/' : safeReturnTo(asked, this.base);
      return returnTo === null ? this.refuse('oidc_invalid_return_to', 400) : this.startLogin(ctx, returnTo);
    }
    if (own === this.config.logoutPath) return this.logout(ctx);
    return this.serve(ctx);
  }

  /** A request for the application: through with a live session, else to the login (browsers) or 401. */
  private async serve(ctx: RequestContext): Promise<PolicyOutcome> {
    const sealed = cookieOf(ctx.headers.cookie, this.config.cookieName);
    try {
      let resumed = await this.sessions.resume(sealed);
      if (typeof resumed === 'object' && this.config.forwardAccessToken) resumed = await this.freshTokens(resumed);
      if (typeof resumed === 'object') {
        this.admit(ctx, resumed.record);
        return this.config.credentialClaim === undefined ? undefined : this.authenticateCredential(ctx, resumed.record.c[this.config.credentialClaim]);
      }
      // A cookie that leads nowhere is deleted with the answer (the browser stops sending it).
      const cleared = sealed === undefined ? [] : [this.clear(this.config.cookieName)];
      if (!this.isBrowserNavigation(ctx)) {
        const code = resumed === 'invalid' ? 'oidc_session_invalid' : resumed === 'ended' ? 'oidc_session_ended' : 'oidc_session_required';
        return this.refuse(code, 401, {
          'www-authenticate': `OIDC realm="${this.base}", login="${this.base}${this.config.loginPath}"`,
          ...(cleared.length > 0 && { 'set-cookie': cleared }),
        });
      }
      return this.startLogin(ctx, ctx.path + (ctx.query === '' ? '' : '?' + ctx.query), cleared);
    } catch (err) {
      return this.failure(err);
    }
  }

  /**
   * The session with an access token the upstream will still accept: one expiring within the
   * clock skew is refreshed first. Two Gateways may refresh the same session at once; when the
   * OP refuses the refresh token (rotated by the other), the session is read again and the other
   * Gateway's tokens are used. A refresh token the OP no longer honours, or an expired access
   * token without one, ends the session.
   */
  private async freshTokens(session: LiveSession): Promise<LiveSession | 'ended'> {
    const { tokens } = session.record;
    const margin = this.config.clockSkewSeconds * 1000;
    const fresh = (t: typeof tokens) => t.accessTokenExpiresAt === undefined || t.accessTokenExpiresAt - margin > this.deps.now();
    if (fresh(tokens)) return session;
    if (tokens.refreshToken === undefined) {
      await this.sessions.drop(session.key);
      return 'ended';
    }
    try {
      const refreshed: LiveSession = { key: session.key, record: { ...session.record, tokens: await this.rp.refresh(tokens.refreshToken, tokens) } };
      return (await this.sessions.save(refreshed)) ? refreshed : 'ended';
    } catch (err) {
      if (!(err instanceof LoginError) || err.reason === 'oidc_provider_unavailable') throw err;
      const reread = await this.sessions.reload(session.key);
      if (reread !== null && reread.tokens.accessToken !== tokens.accessToken && fresh(reread.tokens)) return { key: session.key, record: reread };
      await this.sessions.drop(session.key);
      return 'ended';
    }
  }

  /** The session's claims (and, when configured, its access token) go upstream as headers; the policy's own cookies do not. */
  private admit(ctx: RequestContext, session: SessionRecord): void {
    const claims = session.c;
    const max = this.config.claimHeaderMaxLength;
    const userId = headerValue(claims[this.config.userIdClaim], max);
    if (userId !== null) ctx.upstreamHeaders['x-authenticated-userid'] = userId;
    if (this.config.rolesClaim !== undefined) {
      const roles = headerValue(claims[this.config.rolesClaim], max);
      if (roles !== null) ctx.upstreamHeaders['x-authenticated-userroles'] = roles;
    }
    for (const [claim, header] of Object.entries(this.config.claimHeaders)) {
      const value = headerValue(claims[claim], max);
      if (value !== null) ctx.upstreamHeaders[header] = value;
    }
    if (this.config.forwardAccessToken && session.tokens.accessToken !== undefined) ctx.upstreamHeaders.authorization = `Bearer ${session.tokens.accessToken}`;
    ctx.claimedUsername = userId;
    ctx.strippedHeaders.push('cookie');
    const rest = cookiesWithout(ctx.headers.cookie, [this.config.cookieName, this.loginCookie]);
    if (rest !== null) ctx.upstreamHeaders.cookie = rest;
  }

  /** Hybrid mode: the credential the session's claim names authenticates the request (its rules run next, in the chain). */
  private authenticateCredential(ctx: RequestContext, username: unknown): PolicyOutcome {
    const credential = typeof username === 'string' ? this.deps.directory.findCredential(this.deps.proxy.projectId, username) : null;
    if (!credential) return this.refuse('oidc_credential_unknown', 403);
    const refused = credentialRefusal(credential, this.deps.now(), this.credentialStates);
    return refused ?? establish(ctx, credential, null);
  }

  /** Top-level navigations of a browser (they accept HTML); everything else is an API client. */
  private isBrowserNavigation(ctx: RequestContext): boolean {
    if (this.config.neverRedirect || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return false;
    const accept = ctx.headers.accept;
    return typeof accept === 'string' && accept.includes('text/html');
  }

  private async startLogin(ctx: RequestContext, returnTo: string, cookies: string[] = []): Promise<PolicyOutcome> {
    try {
      const start = await this.rp.startLogin(this.redirectUri(ctx));
      const pending: PendingLogin = { state: start.state, nonce: start.nonce, verifier: start.verifier, returnTo, exp: this.deps.now() + this.config.loginTtlSeconds * 1000 };
      const cookie = setCookie(this.loginCookie, this.sealer.seal(this.loginCookie, pending), this.cookieAttributes(this.config.loginTtlSeconds));
      return redirect(start.url.href, [...cookies, cookie]);
    } catch (err) {
      return this.failure(err);
    }
  }

  private async callback(ctx: RequestContext): Promise<PolicyOutcome> {
    const sealed = cookieOf(ctx.headers.cookie, this.loginCookie);
    const pending = (sealed === undefined ? null : this.sealer.open(this.loginCookie, sealed)) as PendingLogin | null;
    const state = new URLSearchParams(ctx.query).get('state');
    // Compared before the OP is asked anything: a response to another browser's login (login CSRF) goes no further.
    if (pending === null || typeof pending.state !== 'string' || pending.exp <= this.deps.now() || state !== pending.state) {
      return this.refuse('oidc_state_mismatch', 400, { 'set-cookie': [this.clear(this.loginCookie)] });
    }
    try {
      const { claims, tokens } = await this.rp.completeLogin(this.redirectUri(ctx), ctx.query, pending);
      const kept: Record<string, unknown> = {};
      for (const name of this.forwardedClaims) if (claims[name] !== undefined) kept[name] = claims[name];
      // The browser's previous session (another user's, or a planted one) ends: one browser, one session.
      await this.sessions.end(cookieOf(ctx.headers.cookie, this.config.cookieName));
      const sessionCookie = await this.sessions.start(kept, tokens);
      const cookie = setCookie(this.config.cookieName, sessionCookie, this.cookieAttributes(this.config.sessionTtlSeconds));
      ctx.claimedUsername = recordedUser(claims[this.config.userIdClaim]);
      // returnTo was checked when the login started and is sealed since: it cannot point elsewhere.
      return redirect(pending.returnTo, [cookie, this.clear(this.loginCookie)], 'oidc_logged_in');
    } catch (err) {
      const refused = this.failure(err);
      return { ...refused, headers: { ...refused.headers, 'set-cookie': [this.clear(this.loginCookie)] } };
    }
  }

  /**
   * Ends the session in the store (a copy of the cookie is worthless afterwards), deletes the
   * cookies and sends the browser to the OP's end-session endpoint with the ID token as
   * `id_token_hint`. A cross-site request (`Sec-Fetch-Site: cross-site`: a link or form on
   * another site) ends nothing: logout CSRF would let any site log the user out. The session
   * cookie is `SameSite=Lax`, so cross-site subrequests (images, fetch) never carry it anyway.
   */
  private async logout(ctx: RequestContext): Promise<PolicyOutcome> {
    if (ctx.headers['sec-fetch-site'] === 'cross-site') return this.refuse('oidc_logout_cross_site', 403);
    const cleared = [this.clear(this.config.cookieName), this.clear(this.loginCookie)];
    let ended: SessionRecord | null;
    try {
      ended = await this.sessions.end(cookieOf(ctx.headers.cookie, this.config.cookieName));
    } catch (err) {
      // Not revoked: the browser's cookie goes, but the answer must not claim a logout that did not happen.
      const refused = this.failure(err);
      return { ...refused, headers: { ...refused.headers, 'set-cookie': cleared } };
    }
    let target: string = this.base + '/';
    try {
      target = (await this.rp.logoutUrl(ended?.tokens.idToken))?.href ?? target;
    } catch {
      // The OP cannot be reached: the local session ended anyway.
    }
    if (ended === null) return redirect(target, cleared);
    ctx.claimedUsername = recordedUser(ended.c[this.config.userIdClaim]);
    return redirect(target, cleared, 'oidc_logged_out');
  }

  private redirectUri(ctx: RequestContext): string {
    const origin = this.config.publicOrigin?.replace(/\/$/, '') ?? this.deps.issuers?.originOf?.(ctx) ?? requestOrigin(ctx);
    return origin + this.base + this.config.callbackPath;
  }

  private cookieAttributes(maxAge: number) {
    return { path: this.base, secure: this.config.cookieSecure, maxAge };
  }

  private clear(name: string): string {
    return setCookie(name, '', this.cookieAttributes(0));
  }

  private failure(err: unknown): PolicyRejection {
    if (err instanceof LoginError) return this.refuse(err.reason, err.reason === 'oidc_provider_unavailable' ? 503 : 401);
    if (err instanceof SessionStoreUnavailable) return this.refuse('oidc_session_store_unavailable', 503);
    throw err;
  }

  private refuse(code: RejectionCode, status: number, headers?: Record<string, string | string[]>): PolicyRejection {
    return { status, code, message: MESSAGES[code] ?? code, headers: { 'cache-control': 'no-store', ...headers } };
  }
}

/** A redirect; one after a completed login or a logout is recorded as a success (its auth record names the user). */
function redirect(location: string, cookies: string[], code: 'oidc_redirect' | 'oidc_logged_in' | 'oidc_logged_out' = 'oidc_redirect'): PolicyRejection {
  return {
    status: 302,
    code,
    message: 'Redirecting',
    headers: { location, 'set-cookie': cookies, 'cache-control': 'no-store' },
    ...(code !== 'oidc_redirect' && { outcome: 'success' as const }),
  };
}

/** The user id claim as an auth record's username (a string of at most 256 characters; the factory clips). */
function recordedUser(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/**
 * A claim as one header value: strings as they are, arrays joined with ",", numbers and booleans
 * as text; objects are not forwarded. The OP (or a user editing their profile there) chooses these
 * values: one with a control character (CR/LF: header injection) or longer than `max` is not
 * forwarded at all, and one with characters outside printable ASCII (which an HTTP header cannot
 * carry as such) goes percent-encoded as UTF-8.
 */
function headerValue(value: unknown, max: number): string | null {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) text = value.join(',');
  else return null;
  if (CONTROL.test(text)) return null;
  if (!PRINTABLE_ASCII.test(text)) {
    try {
      text = encodeURIComponent(text);
    } catch {
      return null; // a lone surrogate has no UTF-8 encoding
    }
  }
  return text.length <= max ? text : null;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

function requestOrigin(ctx: RequestContext): string {
  const tls = (ctx.socket as { encrypted?: boolean } | null)?.encrypted === true;
  const host = typeof ctx.headers.host === 'string' ? ctx.headers.host : 'localhost';
  return `${tls ? 'https' : 'http'}://${host}`;
}

/** The client secret a shared-secret project secret holds: its current version's bytes as UTF-8. */
function sharedSecretText(secretId: string, deps: PolicyCompileDeps): string {
  const key = currentVersion(openKeyVersions(secretId, deps.projectSecrets, deps.secrets, deps.now())).privateKey;
  if (!(key instanceof Uint8Array)) throw new PolicyConfigError([{ path: ['clientSecretId'], message: 'the client secret must be a shared secret' }]);
  return Buffer.from(key).toString('utf8');
}

export const compileOidc: PolicyCompiler<OidcConfig> = (config, deps) => new OidcPolicy(config, deps);
