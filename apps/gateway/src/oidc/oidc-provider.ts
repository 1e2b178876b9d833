import { EndUserLastLogins } from '@idm/config-bus';
import { CLIENT_AUTH_METHODS, issuedLifetimeSeconds, SIGNING_ALGORITHMS } from '@idm/domain';
import type { PasswordVerificationCache } from '@idm/policies';
import {
  confirmationOf,
  decodeJsonObject,
  DPOP_ALGORITHMS,
  jwsVerify,
  OAuthError,
  splitCompactJws,
  TokenStoreUnavailable,
  type SecretOpener,
  type TokenConfirmation,
} from '@idm/tokens';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ActiveConfiguration } from '../serving/active-configuration';
import type { ServingRevision } from '../serving/serving-revision';
import type { TokenClient, TokenClients } from '../serving/token-clients';
import type { GatewayTokenStore } from '../token-service/gateway-token-store';
import { mayObtainTokens } from '../serving/token-clients';
import { presentedClient } from '../token-service/client-authentication';
import { JWT_BEARER_GRANT } from '../token-service/jwt-bearer-grant';
import { mintJwt } from '../token-service/jwt-minter';
import type { TokenCall } from '../token-service/token-endpoints';
import type { FailureSubject, TokenFailureLimits } from '../token-service/token-failure-limits';
import { clientCertificateOf, provesBinding, tokenTypeOf, type TokenRequestBinding } from '../token-service/token-binding';
import { authenticateClient, requireGrant } from '../token-service/token-grants';
import { formParameters, queryParameters } from '../token-service/token-parameters';
import {
  mayRefresh,
  oidcClientOf,
  parseAuthorizationRequest,
  RedirectableError,
  redirectTo,
  UnredirectableError,
  type AuthorizationRequest,
  type OidcClient,
} from './authorization-request';
import { clearCookie, cookiesOf, CSRF_COOKIE, SESSION_COOKIE, setCookie } from './cookies';
import { isLoginAllowed, type EndUserPasswordValidator } from './end-user-password-validator';
import { assertedClientId, assertionKid, inlineKeyNamed, JWT_BEARER_ASSERTION, verifyClientAssertion } from './client-assertion';
import type { ClientKeyLookup, ClientKeySets } from './client-key-sets';
import type { ClientRegistrationEndpoint } from './client-registration-endpoint';
import type { VerifiedEmailRequirement } from './verified-email-requirement';
import { mintIdToken } from './id-token';
import type { ExternalStartLimit } from './external-start-limit';
import { ExternalLoginFlow, type ExternalIdpFederation } from './external-login';
import { formActionFor, withFormActions, writeConsentPage, writeConsentsPage, writeErrorPage, writeHtml, writeLoginPage, writeRedirect } from './login-page';
import type { LoginAttemptHook, LoginResult } from './login-records';
import type { OidcStore, PendingAuthorization } from './oidc-store';
import type { SelfServicePages } from './self-service-pages';
import { LOGIN_EXPIRED, readTransactionForm, sameSecret } from './transaction-form';

type Body = Record<string, unknown>;
type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

export interface OidcProviderOptions {
  codeTtlSeconds: number;
  loginTtlSeconds: number;
  sessionTtlSeconds: number;
  /** How long a pushed authorization request waits for its /authorize (RFC 9126 §2.2 `expires_in`). */
  parTtlSeconds: number;
}

export const OIDC_DEFAULTS: OidcProviderOptions = { codeTtlSeconds: 60, loginTtlSeconds: 600, sessionTtlSeconds: 8 * 3600, parTtlSeconds: 60 };

const GENERIC_LOGIN_ERROR = 'Invalid username or password.';
const PREFIX = '/credential';
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * The OpenID Provider of the environment's token service (`/credential`): discovery,
 * `/authorize` with the login page, the authorization code grant of `/token`, `/userinfo` and
 * RP-initiated logout. Clients are credentials whose token settings carry `oidc`; users are end
 * users of the client's project. Everything that must hold across Gateways (pending logins, codes,
 * SSO sessions) is in Redis (`OidcStore`); the rest is read from the serving revision per call.
 */
export class OidcProvider {
  /** Told of every login attempt (the auth records: `login-records.ts`); none until `reportLoginsTo`. */
  private loginAttempts: LoginAttemptHook | null = null;
  private external: ExternalLoginFlow | null = null;
  /** DPoP proofs and client certificates at /par and /token (RFC 9449, RFC 8705); none until `bindTokensWith`: bearer tokens only. */
  private binding: TokenRequestBinding | null = null;
  /** Dynamic client registration (RFC 7591/7592, `client-registration-endpoint.ts`); none until `registerClientsWith`. */
  private registration: ClientRegistrationEndpoint | null = null;

  constructor(
    private readonly active: ActiveConfiguration,
    private readonly store: OidcStore,
    private readonly validator: EndUserPasswordValidator,
    private readonly passwords: PasswordVerificationCache,
    private readonly secrets: SecretOpener,
    private readonly lastLogins: EndUserLastLogins,
    private readonly failures: { limits: TokenFailureLimits; addressOf: (peer: string, headers: IncomingMessage['headers']) => string } | null,
    private readonly log: Logger,
    private readonly environment: string,
    /** Where refresh tokens for `offline_access` live (the token service's store: rotation, families, durable copy). */
    private readonly refreshTokens: GatewayTokenStore,
    /** The key sets of clients that registered a `jwksUri` (null: only inline keys verify assertions). */
    private readonly clientKeys: ClientKeySets | null,
    private readonly options: OidcProviderOptions = OIDC_DEFAULTS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** "Create account", "Forgot password?" and the pages of their mail links (`self-service-pages.ts`); none until `offerSelfService`. */
  selfService: SelfServicePages | null = null;

  offerSelfService(pages: SelfServicePages): void {
    this.selfService = pages;
  }

  /** The projects' "require a verified email to sign in" switch (`verified-email-requirement.ts`); none until `requireVerifiedEmailWith`: not applied. */
  private verifiedEmail: VerifiedEmailRequirement | null = null;

  requireVerifiedEmailWith(requirement: VerifiedEmailRequirement): void {
    this.verifiedEmail = requirement;
  }

  reportLoginsTo(hook: LoginAttemptHook): void {
    this.loginAttempts = hook;
  }

  /** Tokens of the code and refresh grants become bound to the key of the request's DPoP proof (or its client certificate). */
  bindTokensWith(binding: TokenRequestBinding): void {
    this.binding = binding;
  }

  /** What tokens issued on this call are bound to (a DPoP proof is verified and its jti spent here); undefined: bearer tokens. */
  private async confirmationOf(call: TokenCall): Promise<TokenConfirmation | undefined> {
    return this.binding === null || call.binding === undefined ? undefined : this.binding.confirmationOf(call.binding);
  }

  registerClientsWith(endpoint: ClientRegistrationEndpoint): void {
    this.registration = endpoint;
  }

  /** `/register` and `/register/<client_id>`: 404 when registration is not served by this Gateway. */
  clientRegistration(req: IncomingMessage, res: ServerResponse, issuer: string, subPath: string): Promise<void> {
    if (!this.registration) return Promise.resolve(writeErrorPage(res, 404, 'not_found', 'Client registration is not offered here.'));
    return this.registration.handle(req, res, issuer, subPath);
  }

  /** Lets users sign in with the external IdPs (`oidc` identity sources) their client lists; none until called. */
  federateWith(federation: ExternalIdpFederation, startLimit?: ExternalStartLimit): void {
    this.external = new ExternalLoginFlow(this.active, this.store, federation, this, this.log, this.options.loginTtlSeconds, this.clock, startLimit);
  }

  /** POST `/external/start` (a "Sign in with" button) and GET `/external/callback` (the IdP's answer): `external-login.ts`. */
  externalStart(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    if (!this.external) return Promise.resolve(writeErrorPage(res, 404, 'source_not_allowed', 'Sign-in with external identity providers is not offered here.'));
    return this.external.start(req, res, issuer);
  }

  externalCallback(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    if (!this.external) return Promise.resolve(writeErrorPage(res, 404, 'source_not_allowed', 'Sign-in with external identity providers is not offered here.'));
    return this.external.callback(req, res, issuer);
  }

  /**
   * A `saml` source's endpoints under `/external/saml/<source>/`: `acs` (POST, the IdP's
   * Response), `metadata` (GET, our SP metadata), and `/external/saml/continue` (GET, the same
   * browser back with its cookies): `external-login.ts`.
   */
  externalSaml(req: IncomingMessage, res: ServerResponse, issuer: string, subPath: string): Promise<void> {
    if (!this.external) return Promise.resolve(writeErrorPage(res, 404, 'source_not_allowed', 'Sign-in with external identity providers is not offered here.'));
    if (subPath === '/continue') return this.external.samlContinue(req, res, issuer);
    const [, name, endpoint, ...rest] = subPath.split('/');
    const source = decodeURIComponent(name ?? '');
    if (rest.length === 0 && endpoint === 'acs') return this.external.samlAcs(req, res, issuer, source);
    if (rest.length === 0 && endpoint === 'metadata') return Promise.resolve(this.external.samlMetadata(res, issuer, source));
    return Promise.resolve(writeErrorPage(res, 404, 'source_not_allowed', 'No SAML endpoint is served at this path.'));
  }

  /** Told of a login that ended at an external IdP's callback (the auth records), like the password form's. */
  recordAttempt(req: IncomingMessage, startedAt: number, attempt: Parameters<LoginAttemptHook>[2]): void {
    this.loginAttempts?.(req, startedAt, attempt);
  }

  /** The login page's "Sign in with" buttons for this client, and the IdPs' origins its CSP must let the forms reach. */
  private externalIdps(client: OidcClient, issuer: string): { form: { externalIdps: string[]; externalAction: string }; origins: string[] } {
    const usable = this.external?.offeredTo(client) ?? [];
    return { form: { externalIdps: usable.map((u) => u.name), externalAction: `${issuer}/external/start` }, origins: usable.map((u) => u.origin) };
  }

  discovery(issuer: string): Body {
    const algorithms = [...new Set((this.active.current?.keyRing.jwks(this.clock()).keys ?? []).map((k) => (k as { alg?: string }).alg).filter(Boolean))];
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/userinfo`,
      end_session_endpoint: `${issuer}/logout`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      introspection_endpoint: `${issuer}/introspect`,
      revocation_endpoint: `${issuer}/revoke`,
      pushed_authorization_request_endpoint: `${issuer}/par`,
      // RFC 8414 §2 / RFC 7591 §3: only while some project accepts registrations.
      ...(this.registration?.offered() === true && { registration_endpoint: `${issuer}/register` }),
      // Per client (`requirePar` of its OIDC settings), not for all.
      require_pushed_authorization_requests: false,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'client_credentials', 'password', 'refresh_token', JWT_BEARER_GRANT],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: algorithms.length ? algorithms : ['RS256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      claims_supported: [
        'sub',
        'iss',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'nonce',
        'at_hash',
        'amr',
        'azp',
        'name',
        'given_name',
        'family_name',
        'locale',
        'picture',
        'preferred_username',
        'email',
        'email_verified',
      ],
      token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
      token_endpoint_auth_signing_alg_values_supported: [...SIGNING_ALGORITHMS],
      code_challenge_methods_supported: ['S256'],
      // RFC 9449 §5.1 / §10 and RFC 8705 §3.3: code-flow tokens are bound to a DPoP key (also at /par and by dpop_jkt) or the client certificate.
      ...(this.binding !== null && { dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS], tls_client_certificate_bound_access_tokens: true }),
      prompt_values_supported: ['none', 'login', 'consent'],
      authorization_response_iss_parameter_supported: true,
      request_parameter_supported: false,
      // Request objects by reference (OIDC Core §6.2) are not; the request_uri of a pushed request is.
      request_uri_parameter_supported: false,
      claims_parameter_supported: false,
    };
  }

  /** GET (query) or POST (form) `/authorize`. */
  async authorize(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const serving = this.active.current;
    if (!serving) return writeErrorPage(res, 503, 'temporarily_unavailable', 'The sign-in service is starting; try again shortly.');
    let params: URLSearchParams;
    try {
      params = req.method === 'POST' ? await formParameters(req) : queryParameters(req.url ?? '');
    } catch {
      return writeErrorPage(res, 400, 'invalid_request', 'The authorization request could not be read.');
    }
    const now = this.clock();
    const pushed = params.has('request_uri');
    if (pushed) {
      const taken = await this.takePushed(params, serving.tokens.clients);
      if ('error' in taken) return writeErrorPage(res, 400, taken.error, taken.description);
      params = taken.params;
    }
    let request: AuthorizationRequest;
    try {
      request = parseAuthorizationRequest(params, serving.tokens.clients, (client) => mayObtainTokens(client, now));
      if (!pushed && request.client.settings.oidc.requirePar)
        throw new RedirectableError('invalid_request', 'this client must push its authorization requests (PAR, RFC 9126) and send their request_uri');
    } catch (err) {
      if (err instanceof UnredirectableError) return writeErrorPage(res, 400, err.code, err.message);
      if (err instanceof RedirectableError) {
        // Only reached once the redirect URI is verified as registered for the client.
        const redirectUri = params.get('redirect_uri')!;
        return writeRedirect(res, redirectTo(redirectUri, { error: err.code, error_description: err.message, state: params.get('state') }, issuer));
      }
      throw err;
    }
    const back = (values: Record<string, string | null>) => writeRedirect(res, redirectTo(request.redirectUri, { ...values, state: request.state }, issuer));
    const cookies = cookiesOf(req.headers.cookie);
    const sessionId = cookies.get(SESSION_COOKIE);
    const session = sessionId ? await this.store.session(sessionId) : null;
    const user = session ? serving.tokens.clients.findById(session.credentialId) : undefined;
    const sessionUsable =
      session !== null &&
      user !== undefined &&
      isLoginAllowed(user, now) &&
      user.credential.projectId === request.client.credential.projectId &&
      // max_age=0 is a fresh login every time (OIDC Core §3.1.2.1), whatever second it is.
      (request.maxAge === null || (request.maxAge > 0 && Math.floor(now / 1000) - session.authTime <= request.maxAge));
    const waiting: Omit<PendingAuthorization, 'csrf'> = {
      clientId: request.client.credential.id,
      redirectUri: request.redirectUri,
      scope: request.scope,
      state: request.state,
      nonce: request.nonce,
      codeChallenge: request.codeChallenge,
      maxAge: request.maxAge,
      forceConsent: request.prompt.has('consent'),
      dpopJkt: request.dpopJkt,
    };
    const csrfCookieOf = (csrf: string) => setCookie(CSRF_COOKIE, csrf, { path: PREFIX, secure: issuer.startsWith('https:'), maxAgeSeconds: this.options.loginTtlSeconds });
    if (sessionUsable && !request.prompt.has('login')) {
      const signedIn = { credentialId: user.credential.id, authTime: session.authTime, sessionId: sessionId! };
      const missing = await this.missingConsent(request.client, signedIn.credentialId, request.scope, waiting.forceConsent!);
      if (missing.length === 0) return back({ code: await this.issueCode(waiting, signedIn) });
      if (request.prompt.has('none')) return back({ error: 'consent_required', error_description: 'the user has not agreed to this client and scope' });
      const pending = await this.store.savePending({ ...waiting, user: signedIn }, this.options.loginTtlSeconds);
      return this.askConsent(res, issuer, request.client, request.redirectUri, pending.id, pending.csrf, missing, [csrfCookieOf(pending.csrf)]);
    }
    if (request.prompt.has('none')) return back({ error: 'login_required', error_description: 'the user is not signed in' });
    const pending = await this.store.savePending(waiting, this.options.loginTtlSeconds);
    const external = this.externalIdps(request.client, issuer);
    const selfService = await this.selfService?.linksFor(request.client.credential.projectId, pending.id, issuer);
    writeLoginPage(
      res,
      200,
      // login_hint prefills the username (escaped by the page like every value); the user may change it.
      { action: `${issuer}/login`, transaction: pending.id, csrf: pending.csrf, username: request.loginHint ?? '', error: null, ...external.form, selfService },
      { 'set-cookie': csrfCookieOf(pending.csrf), ...withFormActions(formActionFor(request.redirectUri), external.origins) },
    );
  }

  /**
   * The parameters of the pushed request a `request_uri` names, spent. RFC 9126 §4: only
   * client_id and request_uri count; every other parameter of this call is ignored. Errors are
   * shown, never redirected: without the stored request there is no verified redirect URI.
   */
  private async takePushed(params: URLSearchParams, clients: TokenClients): Promise<{ params: URLSearchParams } | { error: string; description: string }> {
    if (params.getAll('request_uri').length > 1 || params.getAll('client_id').length > 1)
      return { error: 'invalid_request', description: 'request_uri or client_id is given more than once' };
    const client = oidcClientOf(clients, params.get('client_id'));
    if (!client) return { error: 'invalid_client', description: 'the client is unknown or not allowed to sign users in' };
    const taken = await this.store.takePushed(params.get('request_uri')!, client.credential.id);
    if (taken.outcome === 'other_client') return { error: 'invalid_request_uri', description: 'the request_uri was pushed by another client' };
    if (taken.outcome === 'unknown') return { error: 'invalid_request_uri', description: 'the request_uri is unknown, expired or already used' };
    return { params: new URLSearchParams(taken.pushed.params) };
  }

  /**
   * POST `/par` (RFC 9126): the client authenticates as at `/token`, its authorization request is
   * validated as `/authorize` validates it (same function), then stored for one use. Its errors
   * are the token endpoint's JSON, with the reason /authorize would give.
   */
  async pushAuthorization(call: TokenCall): Promise<Body> {
    const serving = this.active.current;
    if (!serving) throw new OAuthError('temporarily_unavailable', 'the gateway has no configuration yet', 503);
    const now = this.clock();
    // Here client_id belongs to the authorization request too (RFC 9126 §2.1), so beside HTTP Basic
    // it is not a second authentication method: checked below to name the authenticated client.
    const authentication = /^basic /i.test(call.authorization ?? '') ? { ...call, params: without(call.params, 'client_id') } : call;
    const client = await this.authenticate(authentication, serving.tokens.clients, now, '/par');
    const params = new URLSearchParams(call.params);
    // Client authentication is not part of the request kept for /authorize.
    for (const name of ['client_secret', 'client_assertion', 'client_assertion_type']) params.delete(name);
    // RFC 9126 §2.1: a pushed request cannot itself point to one.
    if (params.has('request_uri')) throw new OAuthError('invalid_request', 'request_uri is not allowed in a pushed authorization request');
    const named = params.getAll('client_id');
    if (named.length > 1 || (named.length === 1 && oidcClientOf(serving.tokens.clients, named[0]) !== client))
      throw new OAuthError('invalid_request', 'client_id is not the authenticated client');
    params.set('client_id', client.credential.id);
    await this.bindPushedRequest(call, params);
    try {
      parseAuthorizationRequest(params, serving.tokens.clients, (c) => mayObtainTokens(c, now));
    } catch (err) {
      if (err instanceof UnredirectableError || err instanceof RedirectableError) throw new OAuthError(err.code as OAuthError['code'], err.message, 400);
      throw err;
    }
    const requestUri = await this.store.pushAuthorization({ clientId: client.credential.id, params: params.toString() }, this.options.parTtlSeconds);
    return { request_uri: requestUri, expires_in: this.options.parTtlSeconds };
  }

  /**
   * RFC 9449 §10.1: a DPoP proof sent with the push binds the code to its key, as `dpop_jkt`
   * would; when both are sent they must name the same key. The thumbprint is kept as the pushed
   * request's `dpop_jkt`, so /authorize and the code carry it like a plain parameter.
   */
  private async bindPushedRequest(call: TokenCall, params: URLSearchParams): Promise<void> {
    if (call.binding?.dpop === undefined) return;
    if (this.binding === null) throw new OAuthError('invalid_dpop_proof', 'DPoP is not supported by this gateway');
    const { jkt } = (await this.binding.confirmationOf({ ...call.binding, certificate: undefined })) ?? {};
    const named = params.getAll('dpop_jkt');
    if (named.length > 1 || (named.length === 1 && named[0] !== jkt)) throw new OAuthError('invalid_dpop_proof', 'dpop_jkt is not the thumbprint of the DPoP proof key');
    params.set('dpop_jkt', jkt!);
  }

  /** POST `/consent`: the user's answer on the consent page (after login, or with an SSO session). */
  async consent(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const read = await readTransactionForm(req, res, this.active, this.store, 'consent');
    if (read === null) return;
    const { serving, form, transaction, pending, cookies } = read;
    const signedIn = pending.user!;
    // The session that logged in must still be the browser's and still open (no logout in between).
    if (!sameSecret(cookies.get(SESSION_COOKIE) ?? '', signedIn.sessionId) || (await this.store.session(signedIn.sessionId)) === null)
      return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const now = this.clock();
    const client = oidcClientOf(serving.tokens.clients, pending.clientId);
    if (!client || !mayObtainTokens(client, now)) return writeErrorPage(res, 400, 'invalid_client', 'The application is no longer allowed to sign users in.');
    const user = serving.tokens.clients.findById(signedIn.credentialId);
    if (!user || !isLoginAllowed(user, now)) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const decision = form.get('decision');
    if (decision !== 'allow' && decision !== 'deny') return writeErrorPage(res, 400, 'invalid_request', 'The consent form carries no decision.');
    await this.store.dropPending(transaction);
    const cleared = { 'set-cookie': clearCookie(CSRF_COOKIE, { path: PREFIX, secure: issuer.startsWith('https:') }) };
    if (decision === 'deny')
      return writeRedirect(res, redirectTo(pending.redirectUri, { error: 'access_denied', error_description: 'the user denied access', state: pending.state }, issuer), cleared);
    const already = await this.store.consentedScopes(user.credential.id, client.credential.id);
    await this.store.grantConsent(user.credential.id, client.credential.id, [...already, ...pending.scope.split(' ')]);
    const code = await this.issueCode(pending, signedIn);
    writeRedirect(res, redirectTo(pending.redirectUri, { code, state: pending.state }, issuer), cleared);
  }

  /**
   * GET/POST `/consents`: the signed-in user's consents and their revocation. The form's CSRF
   * token is derived from the SSO session id (HttpOnly, never seen by another site).
   */
  async consents(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const serving = this.active.current;
    if (!serving) return writeErrorPage(res, 503, 'temporarily_unavailable', 'The sign-in service is starting; try again shortly.');
    const sessionId = cookiesOf(req.headers.cookie).get(SESSION_COOKIE);
    const session = sessionId ? await this.store.session(sessionId) : null;
    if (!session) return writeErrorPage(res, 401, 'login_required', 'You are not signed in. Sign in through an application first.');
    const csrf = createHash('sha256').update(`consents:${sessionId}`).digest('base64url');
    let notice: string | null = null;
    if (req.method === 'POST') {
      let form: URLSearchParams;
      try {
        form = await formParameters(req);
      } catch {
        return writeErrorPage(res, 400, 'invalid_request', 'The form could not be read.');
      }
      if (!sameSecret(form.get('csrf') ?? '', csrf)) return writeErrorPage(res, 403, 'csrf_failed', 'The form was not sent from this page.');
      const clientId = form.get('client_id') ?? '';
      if (!clientId || clientId.length > 128) return writeErrorPage(res, 400, 'invalid_request', 'The form names no application.');
      const revoked = await this.store.revokeConsent(session.credentialId, clientId);
      notice = revoked ? 'Access revoked. The application will ask again next time.' : 'That application had no access.';
    }
    const consents = [...(await this.store.consents(session.credentialId))].map(([clientId, scopes]) => ({
      clientId,
      clientName: oidcClientOf(serving.tokens.clients, clientId)?.credential.username ?? clientId,
      scopes: [...scopes],
    }));
    writeConsentsPage(res, `${issuer}/consents`, csrf, consents, notice);
  }

  /** The requested scopes the user has not agreed to for this client (none for a client without consent, unless `prompt=consent`). */
  private async missingConsent(client: OidcClient, credentialId: string, scope: string, force: boolean): Promise<string[]> {
    const requested = scope.split(' ');
    if (force) return requested;
    if (!client.settings.oidc.consentRequired) return [];
    const granted = await this.store.consentedScopes(credentialId, client.credential.id);
    return requested.filter((s) => !granted.has(s));
  }

  private askConsent(res: ServerResponse, issuer: string, client: OidcClient, redirectUri: string, transaction: string, csrf: string, missing: string[], cookies: string[]): void {
    writeConsentPage(
      res,
      { action: `${issuer}/consent`, transaction, csrf, clientName: client.credential.username, scopes: missing },
      { 'set-cookie': cookies, ...formActionFor(redirectUri) },
    );
  }

  private issueCode(request: Omit<PendingAuthorization, 'csrf'>, user: NonNullable<PendingAuthorization['user']>): Promise<string> {
    return this.store.issueCode(
      {
        clientId: request.clientId,
        redirectUri: request.redirectUri,
        scope: request.scope,
        nonce: request.nonce,
        codeChallenge: request.codeChallenge,
        dpopJkt: request.dpopJkt ?? null,
        credentialId: user.credentialId,
        authTime: user.authTime,
        sessionId: user.sessionId,
      },
      this.options.codeTtlSeconds,
    );
  }

  /** POST `/login`: the login form. Every refusal of the credentials reads the same. */
  async login(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const startedAt = performance.now();
    const read = await readTransactionForm(req, res, this.active, this.store, 'login');
    if (read === null) return;
    const { serving, form, transaction, pending, cookies } = read;
    const now = this.clock();
    const client = oidcClientOf(serving.tokens.clients, pending.clientId);
    if (!client || !mayObtainTokens(client, now)) return writeErrorPage(res, 400, 'invalid_client', 'The application is no longer allowed to sign users in.');
    const username = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    const external = this.externalIdps(client, issuer);
    const formAction = withFormActions(formActionFor(pending.redirectUri), external.origins);
    // The links only when the page is shown again: a successful login asks nothing more.
    const again = async (status: number, error: string) =>
      writeLoginPage(
        res,
        status,
        {
          action: `${issuer}/login`,
          transaction,
          csrf: pending.csrf,
          username: username.slice(0, 128),
          error,
          ...external.form,
          selfService: await this.selfService?.linksFor(client.credential.projectId, transaction, issuer),
        },
        formAction,
      );
    const attempted = (result: LoginResult) =>
      this.loginAttempts?.(req, startedAt, { clientId: client.credential.id, projectId: client.credential.projectId, username, issuer, result });
    if (!username || !password || username.length > 128 || password.length > 1024) {
      attempted({ outcome: 'incomplete' });
      return again(400, GENERIC_LOGIN_ERROR);
    }
    const subject: FailureSubject | null = this.failures && {
      surface: 'login',
      clientId: client.credential.projectId,
      username,
      address: this.failures.addressOf(req.socket.remoteAddress ?? '', req.headers),
    };
    if (subject) {
      try {
        this.failures!.limits.check(subject);
      } catch (err) {
        if (err instanceof OAuthError && err.retryAfterSeconds !== undefined) {
          attempted({ outcome: 'locked_out' });
          return writeLoginPage(
            res,
            429,
            { action: `${issuer}/login`, transaction, csrf: pending.csrf, username: username.slice(0, 128), error: 'Too many failed attempts. Try again later.', ...external.form },
            { 'retry-after': String(err.retryAfterSeconds), ...formAction },
          );
        }
        throw err;
      }
    }
    const outcome = await this.validator.verify(client.credential.projectId, username, password, now, client.settings.identitySources ?? []);
    if (outcome.outcome === 'unavailable') {
      attempted({ outcome: 'unavailable', code: outcome.code });
      return again(503, 'Sign-in is unavailable right now. Try again later.');
    }
    if (outcome.outcome === 'no_password_source') {
      attempted({ outcome: 'rejected', reason: 'invalid_credentials', credentialId: null });
      return again(400, 'This application does not take passwords for this account: use a "Sign in with" button.');
    }
    if (outcome.outcome === 'rejected') {
      attempted({ outcome: 'rejected', reason: outcome.refused?.reason ?? 'invalid_credentials', credentialId: outcome.refused?.credentialId ?? null });
      if (subject) await this.failures!.limits.ownerFailed(subject);
      return again(401, GENERIC_LOGIN_ERROR);
    }
    const user = outcome.user;
    // After the password: only someone who knows it learns the account waits for a confirmation (and the failure limits are not charged).
    const unverified = await this.verifiedEmail?.refuses(user).catch(() => 'unknown' as const);
    if (unverified === 'unknown') {
      attempted({ outcome: 'unavailable', code: 'verified_email_unknown' });
      return again(503, 'Sign-in is unavailable right now. Try again later.');
    }
    if (unverified) {
      attempted({ outcome: 'rejected', reason: 'email_not_verified', credentialId: user.credential.id });
      if (this.selfService) return this.selfService.emailNotVerified(res, issuer, transaction, pending.csrf);
      return writeErrorPage(res, 403, 'email_not_verified', 'Confirm your email address through the link we mailed you, then sign in again.');
    }
    attempted({ outcome: 'verified', credentialId: user.credential.id });
    await this.signIn(res, issuer, client, transaction, pending, cookies, user, now);
  }

  /**
   * The end of a login, however the user proved who they are (the password form, an external
   * IdP): a new SSO session, then the consent page or the code sent back to the client.
   */
  async signIn(
    res: ServerResponse,
    issuer: string,
    client: OidcClient,
    transaction: string,
    pending: PendingAuthorization,
    cookies: Map<string, string>,
    user: TokenClient,
    now: number,
  ): Promise<void> {
    // A new session id on every login (no session fixation); the one the browser held ends.
    const previous = cookies.get(SESSION_COOKIE);
    if (previous) await this.store.endSession(previous);
    const authTime = Math.floor(now / 1000);
    const sessionId = await this.store.openSession({ credentialId: user.credential.id, authTime }, this.options.sessionTtlSeconds);
    this.lastLogins.record(user.credential.id, now).catch((err: unknown) => this.log.warn({ err: { message: (err as Error)?.message } }, 'last login not recorded'));
    const signedIn = { credentialId: user.credential.id, authTime, sessionId };
    const secure = issuer.startsWith('https:');
    const sessionCookie = setCookie(SESSION_COOKIE, sessionId, { path: PREFIX, secure });
    const missing = await this.missingConsent(client, user.credential.id, pending.scope, pending.forceConsent ?? false);
    if (missing.length > 0) {
      await this.store.updatePending(transaction, { ...pending, user: signedIn });
      return this.askConsent(res, issuer, client, pending.redirectUri, transaction, pending.csrf, missing, [sessionCookie]);
    }
    await this.store.dropPending(transaction);
    const code = await this.issueCode(pending, signedIn);
    writeRedirect(res, redirectTo(pending.redirectUri, { code, state: pending.state }, issuer), {
      'set-cookie': [sessionCookie, clearCookie(CSRF_COOKIE, { path: PREFIX, secure })],
    });
  }

  /** The authorization_code grant of `/token`: client authentication as the client registered, the code redeemed once. */
  async exchange(call: TokenCall): Promise<Body> {
    const serving = this.active.current;
    if (!serving) throw new OAuthError('temporarily_unavailable', 'the gateway has no configuration yet', 503);
    const now = this.clock();
    const client = await this.authenticate(call, serving.tokens.clients, now);
    requireGrant(client, 'authorization_code');
    const code = call.params.get('code');
    if (!code) throw new OAuthError('invalid_request', 'code is required');
    if (code.length > 128) throw new OAuthError('invalid_grant', 'the code is invalid');
    // Before the code is spent: a proof that does not verify (or was used before) leaves the code to its holder.
    const cnf = await this.confirmationOf(call);
    const accessSeconds = issuedLifetimeSeconds(client.settings.accessTokenLifetime);
    const redemption = await this.store.redeem(code, Math.min(accessSeconds, 86_400) + 60, cnf?.jkt);
    // RFC 9449 §10: a code bound to a DPoP key is redeemed only with a proof by that key (and stays unspent otherwise).
    if (redemption.outcome === 'dpop_mismatch') {
      if (cnf?.jkt === undefined) throw new OAuthError('invalid_dpop_proof', 'the authorization code is bound to a DPoP key: a DPoP proof by that key is required');
      throw new OAuthError('invalid_grant', 'the DPoP proof is not by the key the authorization code is bound to');
    }
    if (redemption.outcome === 'unknown') throw new OAuthError('invalid_grant', 'the code is invalid or expired');
    if (redemption.outcome === 'replayed') {
      // Every token issued from the code: its access token, and its refresh family (with the JWTs refreshed from it).
      const issued = redemption.issued;
      if (issued?.familyId) await this.refreshTokens.revokeFamily(issued.familyId);
      if (issued) await this.active.revokedJwts?.revoke(issued.jti, issued.exp);
      throw new OAuthError('invalid_grant', 'the code was already used; the tokens issued from it are revoked');
    }
    const grant = redemption.grant;
    if (grant.clientId !== client.credential.id) throw new OAuthError('invalid_grant', 'the code was issued to another client');
    if (call.params.get('redirect_uri') !== grant.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    const verifier = call.params.get('code_verifier');
    if (grant.codeChallenge !== null) {
      if (!verifier || !VERIFIER.test(verifier) || !sameSecret(createHash('sha256').update(verifier).digest('base64url'), grant.codeChallenge))
        throw new OAuthError('invalid_grant', 'the PKCE code_verifier does not match');
    } else if (verifier !== null) throw new OAuthError('invalid_grant', 'a code_verifier was sent for a request without PKCE');
    const owner = serving.tokens.clients.findById(grant.credentialId);
    if (!owner || !isLoginAllowed(owner, now) || owner.credential.projectId !== client.credential.projectId)
      throw new OAuthError('invalid_grant', 'the user can no longer sign in');
    const minted = await this.accessToken(call.issuer, serving, client, owner, grant.scope, accessSeconds, now, cnf);
    const refresh = grant.scope.split(' ').includes('offline_access') ? await this.issueRefreshToken(client, owner, grant.scope, accessSeconds, grant.authTime, cnf) : undefined;
    // Indexed with its refresh family, so that a reuse of the refresh token revokes this access token too.
    if (refresh && !(await this.refreshTokens.recordJwt(refresh.familyId, minted.jti, minted.expiresAt)))
      throw new OAuthError('invalid_grant', 'the grant was revoked while the tokens were issued');
    if (!(await this.store.recordIssued(code, minted.jti, minted.expiresAt, refresh?.familyId))) {
      // A replay of the code came first: what was just issued is revoked before anyone sees it.
      if (refresh) await this.refreshTokens.revokeFamily(refresh.familyId);
      else await this.active.revokedJwts?.revoke(minted.jti, minted.expiresAt);
      throw new OAuthError('invalid_grant', 'the code was already used; the tokens issued from it are revoked');
    }
    const idToken = await mintIdToken(
      serving.keyRing,
      {
        issuer: call.issuer,
        subject: owner.credential.id,
        clientId: client.credential.id,
        nonce: grant.nonce,
        authTime: grant.authTime,
        accessToken: minted.token,
        lifetimeSeconds: client.settings.oidc.idTokenLifetimeSeconds,
        algorithm: client.settings.signingAlgorithm,
      },
      now,
    );
    return {
      access_token: minted.token,
      token_type: tokenTypeOf(cnf),
      expires_in: accessSeconds,
      id_token: idToken,
      scope: grant.scope,
      ...(refresh !== undefined && { refresh_token: refresh.token }),
    };
  }

  /** True when `/token` names an OIDC client: its refresh_token grant is the provider's (public clients have no secret). */
  handlesRefresh(call: TokenCall): boolean {
    const clients = this.active.current?.tokens.clients;
    return clients !== undefined && oidcClientOf(clients, clientIdOf(call)) !== undefined;
  }

  /**
   * The refresh_token grant of an OIDC client: the refresh token rotates on every use (the old one
   * is spent), and presenting a spent one revokes its whole family (RFC 9700 §4.14.2); the new
   * access token is a JWT like the code grant's. A grant with `openid` gets a new ID token too
   * (OIDC Core §12.2): same subject, the original login's `auth_time`, new `iat`/`exp`, no `nonce`
   * (the login did not happen again; `nonce` belongs to an authentication request).
   */
  async refresh(call: TokenCall): Promise<Body> {
    const serving = this.active.current;
    if (!serving) throw new OAuthError('temporarily_unavailable', 'the gateway has no configuration yet', 503);
    const now = this.clock();
    const client = await this.authenticate(call, serving.tokens.clients, now);
    requireGrant(client, 'refresh_token');
    if (!client.settings.refreshAllowed) throw new OAuthError('unauthorized_client', 'this client may not refresh tokens');
    const presented = call.params.get('refresh_token');
    if (!presented) throw new OAuthError('invalid_request', 'refresh_token is required');
    const requested = call.params.get('scope');
    const accessSeconds = issuedLifetimeSeconds(client.settings.accessTokenLifetime);
    const cnf = await this.confirmationOf(call);
    const rotation = await this.refreshTokens.rotateRefresh(presented, {
      clientId: client.credential.id,
      accessTokenSeconds: accessSeconds,
      refreshTokenSeconds: issuedLifetimeSeconds(client.settings.refreshTokenLifetime),
      scope: requested === null || requested.trim() === '' ? undefined : requested.trim(),
      maxRefreshCount: client.settings.maxRefreshCount ?? undefined,
      cnf,
    });
    if (rotation.outcome === 'reuse_detected') throw new OAuthError('invalid_grant', 'the refresh token was already used; every token of its grant is revoked');
    if (rotation.outcome === 'rejected' && rotation.reason === 'scope_not_granted')
      throw new OAuthError('invalid_scope', 'the requested scope exceeds the scope originally granted');
    // RFC 9449 §5: a refresh token bound to a DPoP key is used only with a proof by that key; it stays unused for its holder.
    if (rotation.outcome === 'rejected' && rotation.reason === 'binding_mismatch')
      throw new OAuthError('invalid_grant', 'the refresh token is bound to a DPoP key or client certificate this request did not prove');
    if (rotation.outcome === 'rejected')
      throw new OAuthError('invalid_grant', rotation.reason === 'refresh_limit_reached' ? 'the refresh limit of this grant is reached' : 'the refresh token is invalid');
    const owner = serving.tokens.clients.findById(rotation.record.credentialId ?? rotation.record.subject);
    if (!owner || !isLoginAllowed(owner, now) || owner.credential.projectId !== client.credential.projectId) {
      await this.refreshTokens.revoke(rotation.tokens.refreshToken, client.credential.id);
      throw new OAuthError('invalid_grant', 'the user can no longer sign in');
    }
    const minted = await this.accessToken(call.issuer, serving, client, owner, rotation.record.scope, accessSeconds, now, cnf);
    if (!(await this.refreshTokens.recordJwt(rotation.tokens.familyId, minted.jti, minted.expiresAt)))
      throw new OAuthError('invalid_grant', 'the grant was revoked while the tokens were issued');
    // The grant's scope (the refresh token's), not a narrowed request's: the ID token is about the login, not the access token's reach.
    const openid = rotation.grantScope.split(' ').includes('openid') && rotation.record.authTime !== undefined;
    const idToken = openid
      ? await mintIdToken(
          serving.keyRing,
          {
            issuer: call.issuer,
            subject: owner.credential.id,
            clientId: client.credential.id,
            nonce: null,
            authTime: rotation.record.authTime!,
            accessToken: minted.token,
            lifetimeSeconds: client.settings.oidc.idTokenLifetimeSeconds,
            algorithm: client.settings.signingAlgorithm,
          },
          now,
        )
      : undefined;
    return {
      access_token: minted.token,
      token_type: tokenTypeOf(cnf),
      expires_in: accessSeconds,
      refresh_token: rotation.tokens.refreshToken,
      scope: rotation.record.scope,
      ...(idToken !== undefined && { id_token: idToken }),
    };
  }

  /** A refresh token for `offline_access` and its family, when the client may refresh (else the scope was dropped at /authorize). */
  private async issueRefreshToken(
    client: OidcClient,
    owner: TokenClient,
    scope: string,
    accessSeconds: number,
    authTime: number,
    cnf: TokenConfirmation | undefined,
  ): Promise<{ token: string; familyId: string } | undefined> {
    if (!mayRefresh(client)) return undefined;
    // Bound like the access token (RFC 9449 §5): only the holder of the key refreshes it.
    const issued = await this.refreshTokens.issue(
      {
        clientId: client.credential.id,
        subject: owner.credential.id,
        credentialId: owner.credential.id,
        scope,
        environment: this.environment,
        authTime,
        ...(cnf !== undefined && { cnf }),
      },
      { accessTokenSeconds: accessSeconds, refreshTokenSeconds: issuedLifetimeSeconds(client.settings.refreshTokenLifetime) },
    );
    return { token: issued.refreshToken!, familyId: issued.familyId };
  }

  private accessToken(
    issuer: string,
    serving: ServingRevision,
    client: OidcClient,
    owner: TokenClient,
    scope: string,
    lifetimeSeconds: number,
    now: number,
    cnf: TokenConfirmation | undefined,
  ) {
    return mintJwt(
      serving.keyRing,
      this.secrets,
      { issuer, client, owner, scope, audience: [...(serving.tokens.projectBasePaths.get(owner.credential.projectId) ?? [])], lifetimeSeconds, cnf },
      now,
    );
  }

  /**
   * GET or POST `/userinfo` with an access token from the code flow: `Bearer`, or `DPoP` with a
   * proof by its key that hashes it (RFC 9449 §7) when the token is DPoP-bound — a bound token
   * is never taken as a bearer token, and a certificate-bound one only on a connection that
   * presented its certificate.
   */
  async userinfo(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const headers = { 'cache-control': 'no-store', pragma: 'no-cache' };
    let scheme = 'Bearer';
    const refuse = (status: number, error: string, description: string, extra: Readonly<Record<string, string>> = {}) => {
      const body = JSON.stringify({ error, error_description: description });
      res.writeHead(status, {
        ...headers,
        ...extra,
        'www-authenticate': `${scheme} error="${error}", error_description="${description}"`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      });
      res.end(body);
    };
    const serving = this.active.current;
    const match = /^(bearer|dpop) ([A-Za-z0-9._~+/-]+=*)$/i.exec(req.headers.authorization ?? '');
    if (!serving || !match) return refuse(401, 'invalid_token', 'a Bearer or DPoP access token is required');
    scheme = match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const verified = serving.tokens.ownJwts.verify(match[2]);
    const now = this.clock();
    if (!verified.ok || verified.claims.iss !== issuer) return refuse(401, 'invalid_token', 'the access token is invalid');
    const bound = confirmationOf(verified.claims.cnf);
    if (bound === 'unreadable') return refuse(401, 'invalid_token', 'the access token is invalid');
    if ((bound?.jkt !== undefined) !== (scheme === 'DPoP'))
      return refuse(
        401,
        'invalid_token',
        bound?.jkt !== undefined ? 'the access token is DPoP-bound: present it as Authorization: DPoP with a proof' : 'the access token is not DPoP-bound: present it as Bearer',
      );
    if (bound) {
      if (bound.jkt !== undefined && req.headers.dpop === undefined) return refuse(401, 'invalid_dpop_proof', 'a DPoP proof is required');
      let proved: TokenConfirmation | undefined;
      try {
        proved = await this.binding?.confirmationOf({
          dpop: bound.jkt === undefined ? undefined : req.headers.dpop,
          method: req.method ?? 'GET',
          url: `${issuer}/userinfo`,
          certificate: clientCertificateOf(req),
          accessToken: match[2],
        });
      } catch (err) {
        if (err instanceof OAuthError) return refuse(err.status < 500 ? 401 : err.status, err.code, err.description, err.headers);
        // The replay cache (Redis) is down: the proof cannot be checked, so the client retries.
        if (err instanceof TokenStoreUnavailable) return refuse(503, 'temporarily_unavailable', 'DPoP proofs cannot be checked right now');
        throw err;
      }
      if (!provesBinding(bound, proved)) return refuse(401, 'invalid_token', 'the access token is bound to a key or certificate this request did not prove');
    }
    const claims = verified.claims;
    const scopes = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ') : []);
    if (!scopes.has('openid')) return refuse(403, 'insufficient_scope', 'the access token lacks the openid scope');
    const client = oidcClientOf(serving.tokens.clients, String(claims.client_id));
    const user = serving.tokens.clients.findById(String(claims.sub));
    if (!client || !user || !isLoginAllowed(user, now)) return refuse(401, 'invalid_token', 'the access token is invalid');
    const profile = user.credential.endUser!;
    const body: Body = { sub: user.credential.id };
    if (scopes.has('profile')) {
      Object.assign(body, {
        preferred_username: user.credential.username,
        ...(profile.name !== null && { name: profile.name }),
        ...(profile.givenName !== null && { given_name: profile.givenName }),
        ...(profile.familyName !== null && { family_name: profile.familyName }),
        ...(profile.locale !== null && { locale: profile.locale }),
        ...(profile.pictureUrl !== null && { picture: profile.pictureUrl }),
        ...(Object.keys(profile.attributes).length > 0 && { attributes: profile.attributes }),
      });
    }
    if (scopes.has('email')) Object.assign(body, { email: profile.email, email_verified: profile.emailVerified });
    const text = JSON.stringify(body);
    res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  /** RP-initiated logout: ends the SSO session; returns only to a post-logout URI the client registered. */
  async logout(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    let params: URLSearchParams;
    try {
      params = req.method === 'POST' ? await formParameters(req) : queryParameters(req.url ?? '');
    } catch {
      return writeErrorPage(res, 400, 'invalid_request', 'The logout request could not be read.');
    }
    const serving = this.active.current;
    const returnTo = params.get('post_logout_redirect_uri');
    let client: OidcClient | undefined;
    const hint = params.get('id_token_hint');
    if (hint && serving) {
      const audience = this.idTokenAudience(serving, hint, issuer);
      if (audience === null) return writeErrorPage(res, 400, 'invalid_request', 'The id_token_hint is not an ID token of this provider.');
      client = oidcClientOf(serving.tokens.clients, audience);
    }
    const clientId = params.get('client_id');
    if (clientId && serving) {
      const named = oidcClientOf(serving.tokens.clients, clientId);
      if (client && named && named !== client) return writeErrorPage(res, 400, 'invalid_request', 'client_id and id_token_hint name different clients.');
      client ??= named;
    }
    if (returnTo !== null && (!client || !client.settings.oidc.postLogoutRedirectUris.includes(returnTo)))
      return writeErrorPage(res, 400, 'invalid_request', 'The post_logout_redirect_uri is not registered for this client.');
    const sessionId = cookiesOf(req.headers.cookie).get(SESSION_COOKIE);
    if (sessionId) await this.store.endSession(sessionId);
    const cleared = clearCookie(SESSION_COOKIE, { path: PREFIX, secure: issuer.startsWith('https:') });
    if (returnTo !== null) {
      const url = new URL(returnTo);
      const state = params.get('state');
      if (state !== null) url.searchParams.set('state', state);
      return writeRedirect(res, url.toString(), { 'set-cookie': cleared });
    }
    writeHtml(res, 200, '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body><h1>You are signed out.</h1></body></html>', {
      'set-cookie': cleared,
    });
  }

  /** The `aud` of an ID token this provider signed (expired ones too: a hint may be old), else null. */
  private idTokenAudience(serving: ServingRevision, token: string, issuer: string): string | null {
    const jws = splitCompactJws(token, 8192);
    if (!jws || typeof jws.header.kid !== 'string') return null;
    const key = serving.keyRing.verificationKey(jws.header.kid, this.clock());
    if (!key || jws.header.alg !== key.algorithm || !jwsVerify(key.algorithm, Buffer.from(jws.signingInput), jws.signature, key.key)) return null;
    const claims = decodeJsonObject(jws.payloadSegment);
    return claims && claims.iss === issuer && typeof claims.aud === 'string' ? claims.aud : null;
  }

  /** A `private_key_jwt` assertion: verified, the client live, its `jti` never accepted twice (on any Gateway). */
  private async checkAssertion(call: TokenCall, client: OidcClient, now: number, endpoint: string): Promise<void> {
    const assertion = call.params.get('client_assertion');
    if (call.params.get('client_assertion_type') !== JWT_BEARER_ASSERTION || !assertion)
      throw new OAuthError('invalid_client', `client assertion: client_assertion_type must be ${JWT_BEARER_ASSERTION} with a client_assertion`);
    const presentedId = call.params.get('client_id');
    if (presentedId !== null && assertedClientId(assertion) !== presentedId) throw new OAuthError('invalid_client', 'client assertion: sub is not the client_id');
    const { jti, ttlSeconds } = verifyClientAssertion(assertion, client, [call.issuer + endpoint, call.issuer], now, await this.remoteKey(client, assertion));

    if (!mayObtainTokens(client, now)) throw new OAuthError('invalid_client', 'client authentication failed');
    if (!(await this.store.claimAssertion(client.credential.id, jti, ttlSeconds))) throw new OAuthError('invalid_client', 'client assertion: this jti was already used');
  }

  /**
   * The key the client's `jwksUri` publishes under the assertion's `kid`; not asked when the
   * client has no `jwksUri`, the assertion no `kid`, or an inline key carries that `kid`.
   */
  private async remoteKey(client: OidcClient, assertion: string): Promise<ClientKeyLookup | undefined> {
    const uri = client.settings.oidc.jwksUri;
    const kid = assertionKid(assertion);
    if (!uri || !this.clientKeys || kid === null || inlineKeyNamed(client, kid)) return undefined;
    return this.clientKeys.key(uri, kid);
  }

  /** Confidential clients by the method they registered (secret checked, failures counted), public ones by client_id alone. */
  private async authenticate(call: TokenCall, clients: TokenClients, now: number, endpoint: '/token' | '/par' = '/token'): Promise<OidcClient> {
    const method = authMethodOf(call);
    // RFC 6749 §2.3: one method per request.
    if (method === 'private_key_jwt' && (call.authorization !== undefined || call.params.has('client_secret')))
      throw new OAuthError('invalid_request', 'a client assertion and a client secret were both sent');
    const clientId = clientIdOf(call);
    const client = oidcClientOf(clients, clientId);
    if (call.subject) call.subject.clientId = clientId;
    if (!client || client.settings.oidc.tokenEndpointAuthMethod !== method) throw new OAuthError('invalid_client', 'client authentication failed');
    if (method === 'none') {
      if (!mayObtainTokens(client, now)) throw new OAuthError('invalid_client', 'client authentication failed');
    } else {
      const subject = this.failures ? { surface: 'credential', clientId: clientId!, address: this.failures.addressOf(call.peer ?? '', call.headers ?? {}) } : null;
      if (subject) this.failures!.limits.check(subject);
      try {
        if (method === 'private_key_jwt') await this.checkAssertion(call, client, now, endpoint);
        else await authenticateClient(clients, presentedClient(call.authorization, call.params), this.passwords, now);
      } catch (err) {
        if (subject && err instanceof OAuthError && err.code === 'invalid_client') await this.failures!.limits.clientFailed(subject);
        throw err;
      }
    }
    if (call.subject) {
      call.subject.credentialId = client.credential.id;
      call.subject.projectId = client.credential.projectId;
    }
    return client;
  }
}

function authMethodOf(call: TokenCall): ClientAuthMethod {
  if (call.params.has('client_assertion') || call.params.has('client_assertion_type')) return 'private_key_jwt';
  return /^basic /i.test(call.authorization ?? '') ? 'client_secret_basic' : call.params.has('client_secret') ? 'client_secret_post' : 'none';
}

function clientIdOf(call: TokenCall): string | null {
  const method = authMethodOf(call);
  if (method === 'private_key_jwt') return call.params.get('client_id') ?? assertedClientId(call.params.get('client_assertion'));
  return method === 'none' ? call.params.get('client_id') : presentedClient(call.authorization, call.params).clientId;
}

function without(params: URLSearchParams, name: string): URLSearchParams {
  const copy = new URLSearchParams(params);
  copy.delete(name);
  return copy;
}
