import type { PolicyCompileDeps, PolicyCompiler } from '../compile-dependencies';
import { currentVersion, openKeyVersions } from '../jose-keys/key-versions';
import type { Policy, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { PolicyConfigError } from '../policy-config.error';
import type { RejectionCode } from '../rejection-reasons';
import { LoginError, RelyingParty } from './relying-party';
import { safeReturnTo } from './return-to';
import type { OidcConfig } from './schema';
import { CookieSealer, cookieOf, cookiesWithout, setCookie } from './sealed-cookie';

/** What the session cookie holds: the claims the policy forwards, and when the session ends. */
interface Session {
  /** The claims named by the config (user id, roles, claim headers), as the ID token had them. */
  c: Record<string, unknown>;
  /** Epoch ms. */
  exp: number;
}

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
  oidc_session_invalid: 'The session cookie is not valid here (tampered, or its key was retired)',
  oidc_state_mismatch: 'The login response does not belong to a login started by this browser',
  oidc_login_failed: 'The identity provider did not log the user in',
  oidc_code_rejected: 'The identity provider refused the authorization code (used, expired or not issued to this client)',
  oidc_id_token_invalid: 'The ID token failed validation',
  oidc_provider_unavailable: 'The identity provider cannot be reached',
  oidc_invalid_return_to: 'return_to must be a path of this API',
};

/**
 * The Gateway as OpenID Connect relying party in front of a browser application. Requests with a
 * valid session cookie go upstream with the user's claims as headers; a browser without one is
 * sent to the OP (authorization code + PKCE, state, nonce), an API client gets 401. The callback,
 * login and logout paths under the proxy's base path are answered by the policy itself.
 *
 * Redirects are answered as "rejections" with status 302 (reason `oidc_redirect`): the chain's one
 * way to answer a request without forwarding it.
 */
export class OidcPolicy implements Policy {
  readonly type = 'oidc';
  readonly upstreamHeaderNames: readonly string[];
  private readonly rp: RelyingParty;
  private readonly sealer: CookieSealer;
  private readonly loginCookie: string;
  private readonly base: string;
  private readonly forwardedClaims: string[];

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
    this.loginCookie = `${config.cookieName}_LOGIN`;
    this.base = deps.proxy.basePath;
    this.upstreamHeaderNames = Object.values(config.claimHeaders);
    this.forwardedClaims = [...new Set([config.userIdClaim, ...(config.rolesClaim ? [config.rolesClaim] : []), ...Object.keys(config.claimHeaders)])];
  }

  execute(ctx: RequestContext): PolicyOutcome | Promise<PolicyOutcome> {
    const own = ctx.path.startsWith(this.base) ? ctx.path.slice(this.base.length) : ctx.path;
    if (own === this.config.callbackPath) return this.callback(ctx);
    if (own === this.config.loginPath) {
      const asked = new URLSearchParams(ctx.query).get('return_to');
      const returnTo = asked === null ? this.base + '/' : safeReturnTo(asked, this.base);
      return returnTo === null ? this.refuse('oidc_invalid_return_to', 400) : this.startLogin(ctx, returnTo);
    }
    if (own === this.config.logoutPath) return this.logout();

    const sealed = cookieOf(ctx.headers.cookie, this.config.cookieName);
    const opened = sealed === undefined ? null : this.sealer.open(this.config.cookieName, sealed);
    const session = opened as Session | null;
    if (session !== null && typeof session.exp === 'number' && session.exp > this.deps.now() && session.c !== null && typeof session.c === 'object') {
      this.admit(ctx, session);
      return undefined;
    }
    if (!this.isBrowserNavigation(ctx)) {
      return this.refuse(sealed !== undefined && opened === null ? 'oidc_session_invalid' : 'oidc_session_required', 401, {
        'www-authenticate': `OIDC realm="${this.base}", login="${this.base}${this.config.loginPath}"`,
      });
    }
    return this.startLogin(ctx, ctx.path + (ctx.query === '' ? '' : '?' + ctx.query));
  }

  /** The session's claims go upstream as headers; the policy's own cookies do not. */
  private admit(ctx: RequestContext, session: Session): void {
    const claims = session.c;
    const userId = headerValue(claims[this.config.userIdClaim]);
    if (userId !== null) ctx.upstreamHeaders['x-authenticated-userid'] = userId;
    if (this.config.rolesClaim !== undefined) {
      const roles = headerValue(claims[this.config.rolesClaim]);
      if (roles !== null) ctx.upstreamHeaders['x-authenticated-userroles'] = roles;
    }
    for (const [claim, header] of Object.entries(this.config.claimHeaders)) {
      const value = headerValue(claims[claim]);
      if (value !== null) ctx.upstreamHeaders[header] = value;
    }
    ctx.claimedUsername = userId;
    ctx.strippedHeaders.push('cookie');
    const rest = cookiesWithout(ctx.headers.cookie, [this.config.cookieName, this.loginCookie]);
    if (rest !== null) ctx.upstreamHeaders.cookie = rest;
  }

  /** Top-level navigations of a browser (they accept HTML); everything else is an API client. */
  private isBrowserNavigation(ctx: RequestContext): boolean {
    if (this.config.neverRedirect || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return false;
    const accept = ctx.headers.accept;
    return typeof accept === 'string' && accept.includes('text/html');
  }

  private async startLogin(ctx: RequestContext, returnTo: string): Promise<PolicyOutcome> {
    try {
      const start = await this.rp.startLogin(this.redirectUri(ctx));
      const pending: PendingLogin = { state: start.state, nonce: start.nonce, verifier: start.verifier, returnTo, exp: this.deps.now() + this.config.loginTtlSeconds * 1000 };
      const cookie = setCookie(this.loginCookie, this.sealer.seal(this.loginCookie, pending), this.cookieAttributes(this.config.loginTtlSeconds));
      return redirect(start.url.href, [cookie]);
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
      const claims = await this.rp.completeLogin(new URL(this.redirectUri(ctx) + '?' + ctx.query), pending);
      const kept: Record<string, unknown> = {};
      for (const name of this.forwardedClaims) if (claims[name] !== undefined) kept[name] = claims[name];
      const session: Session = { c: kept, exp: this.deps.now() + this.config.sessionTtlSeconds * 1000 };
      const cookie = setCookie(this.config.cookieName, this.sealer.seal(this.config.cookieName, session), this.cookieAttributes(this.config.sessionTtlSeconds));
      // returnTo was checked when the login started and is sealed since: it cannot point elsewhere.
      return redirect(pending.returnTo, [cookie, this.clear(this.loginCookie)]);
    } catch (err) {
      const refused = this.failure(err);
      return { ...refused, headers: { ...refused.headers, 'set-cookie': [this.clear(this.loginCookie)] } };
    }
  }

  private async logout(): Promise<PolicyOutcome> {
    const cleared = [this.clear(this.config.cookieName), this.clear(this.loginCookie)];
    let target: string = this.base + '/';
    try {
      target = (await this.rp.logoutUrl())?.href ?? target;
    } catch {
      // The OP cannot be reached: the local session ends anyway.
    }
    return redirect(target, cleared);
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
    throw err;
  }

  private refuse(code: RejectionCode, status: number, headers?: Record<string, string | string[]>): PolicyRejection {
    return { status, code, message: MESSAGES[code] ?? code, headers: { 'cache-control': 'no-store', ...headers } };
  }
}

function redirect(location: string, cookies: string[]): PolicyRejection {
  return { status: 302, code: 'oidc_redirect', message: 'Redirecting', headers: { location, 'set-cookie': cookies, 'cache-control': 'no-store' } };
}

/** A claim as one header value: strings as they are, arrays joined with ",", numbers and booleans as text; objects are not forwarded. */
function headerValue(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  return null;
}

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
