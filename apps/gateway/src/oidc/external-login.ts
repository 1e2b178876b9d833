import type { IdentitySourceDefinition } from '@idm/domain';
import { randomBytes } from 'node:crypto';
import { IdpLoginError, OidcIdpSource, SamlIdpSource, SamlLoginError, type ServiceProvider, type SourceIdentity } from '@idm/identity-sources';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ActiveConfiguration } from '../serving/active-configuration';
import { mayObtainTokens, type TokenClient } from '../serving/token-clients';
import { formParameters, queryParameters } from '../token-service/token-parameters';
import { oidcClientOf, type OidcClient } from './authorization-request';
import { cookiesOf, CSRF_COOKIE } from './cookies';
import type { EndUserLogin } from './end-user-password-validator';
import type { ExternalStartLimit } from './external-start-limit';
import { writeErrorPage, writeRedirect } from './login-page';
import type { LoginAttempt } from './login-records';
import type { OidcStore, PendingAuthorization } from './oidc-store';
import { LOGIN_EXPIRED, readTransactionForm, sameSecret } from './transaction-form';

/** An external IdP the flow may use: an `oidc` or a `saml` identity source, with its scope. */
interface UsableIdp {
  definition: IdentitySourceDefinition;
  idp: OidcIdpSource | SamlIdpSource;
  projectId: string | null;
}

/** What the flow needs of the Gateway's identity sources: the `oidc` and `saml` ones by name, and just-in-time provisioning. */
export interface ExternalIdpFederation {
  externalIdp(name: string): UsableIdp | undefined;
  link(projectId: string, source: string, identity: SourceIdentity, roles: string[], now: number): Promise<EndUserLogin>;
}

/** The OpenID Provider's end of a login: a new session, then consent or the code (`OidcProvider.signIn`). */
interface SignIn {
  signIn(
    res: ServerResponse,
    issuer: string,
    client: OidcClient,
    transaction: string,
    pending: PendingAuthorization,
    cookies: Map<string, string>,
    user: TokenClient,
    now: number,
  ): Promise<void>;
  recordAttempt(req: IncomingMessage, startedAt: number, attempt: LoginAttempt): void;
}

/** What the error page says per failure; the code is in `data-code`, the IdP's own detail only in the log. */
const IDP_FAILURE_TEXT: Record<IdpLoginError['reason'], { status: number; text: string }> = {
  idp_login_failed: { status: 401, text: 'The identity provider did not sign you in. Go back to the application and start again.' },
  idp_code_rejected: { status: 401, text: 'The identity provider refused this sign-in. Go back to the application and start again.' },
  idp_id_token_invalid: { status: 401, text: 'The identity provider’s answer could not be verified. Go back to the application and start again.' },
  idp_claims_refused: { status: 403, text: 'Your account at the identity provider is not allowed to sign in to this application.' },
  idp_unavailable: { status: 503, text: 'The identity provider cannot be reached right now. Try again later.' },
};

/** The SAML ACS's refusals; the code is in `data-code`, node-saml's detail only in the log. */
const SAML_FAILURE_STATUS: Record<SamlLoginError['reason'], number> = {
  saml_signature_invalid: 401,
  saml_response_expired: 401,
  saml_audience_mismatch: 401,
  saml_destination_mismatch: 401,
  saml_in_response_to_invalid: 401,
  saml_response_invalid: 400,
  saml_xml_refused: 400,
  saml_idp_status: 401,
  saml_encryption_required: 401,
  saml_decryption_failed: 401,
  idp_claims_refused: 403,
};

/** How long a verified SAML Response waits for the browser's same-site GET (one redirect away). */
const SAML_VERIFIED_TTL_SECONDS = 60;
/** A source name as it appears in the SAML paths (the entity names' rule). */
const SOURCE_IN_PATH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Sign-in through an external OpenID Provider (an `oidc` identity source) from the login page:
 * a "Sign in with" button posts the login transaction (its CSRF token checked as the password
 * form's) to `/external/start`, which sends the browser to the IdP with PKCE, state and nonce.
 * The IdP's callback (`/external/callback`) takes the state's record once (a replay or a forged
 * state finds nothing), requires the browser's CSRF cookie of the same transaction (a callback
 * carried to another browser does nothing), exchanges the code, verifies the ID token, maps its
 * claims and provisions or refreshes the end user exactly as a password source does; then the
 * original /authorize transaction goes on (consent, code). Only sources the client's token
 * settings list, System-wide or of the client's project, are offered or accepted.
 */
export class ExternalLoginFlow {
  constructor(
    private readonly active: ActiveConfiguration,
    private readonly store: OidcStore,
    private readonly federation: ExternalIdpFederation,
    private readonly provider: SignIn,
    private readonly log: Logger,
    private readonly loginTtlSeconds: number,
    private readonly clock: () => number,
    private readonly startLimit?: ExternalStartLimit,
  ) {}

  /** The IdPs the client offers, in its order, with the origin of each (for the page's CSP). */
  offeredTo(client: OidcClient): { name: string; origin: string }[] {
    return (client.settings.identitySources ?? []).flatMap((name) => {
      const idp = this.allowed(client, name);
      if (!idp) return [];
      return [{ name, origin: new URL(idp.idp instanceof SamlIdpSource ? idp.idp.config.ssoUrl : idp.idp.config.issuer).origin }];
    });
  }

  async start(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    // Before the body is read: a flood costs one Redis round trip per request, nothing stored.
    const wait = (await this.startLimit?.retryAfter(req)) ?? 0;
    if (wait > 0) {
      req.resume();
      return writeErrorPage(res, 429, 'rate_limited', 'Too many sign-in attempts from your network. Wait a minute and try again.', { 'retry-after': String(wait) });
    }
    const read = await readTransactionForm(req, res, this.active, this.store, 'login');
    if (read === null) return;
    const { serving, form, transaction, pending } = read;
    const client = oidcClientOf(serving.tokens.clients, pending.clientId);
    if (!client || !mayObtainTokens(client, this.clock())) return writeErrorPage(res, 400, 'invalid_client', 'The application is no longer allowed to sign users in.');
    const name = form.get('source') ?? '';
    const idp = this.allowed(client, name);
    if (!idp) return writeErrorPage(res, 400, 'source_not_allowed', 'This application does not offer sign-in with that identity provider.');
    if (idp.idp instanceof SamlIdpSource) return this.startSaml(res, issuer, name, idp.idp, transaction);
    let started;
    try {
      started = await idp.idp.startLogin(callbackOf(issuer));
    } catch (err) {
      this.log.warn({ source: name, err: { message: (err as Error)?.message } }, 'the external identity provider could not be reached to start a sign-in');
      return writeErrorPage(res, 503, 'idp_unavailable', IDP_FAILURE_TEXT.idp_unavailable.text);
    }
    await this.store.saveExternalLogin(started.state, { transaction, source: name, nonce: started.nonce, verifier: started.verifier }, this.loginTtlSeconds);
    writeRedirect(res, started.url.href);
  }

  async callback(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const startedAt = performance.now();
    const serving = this.active.current;
    if (!serving) return writeErrorPage(res, 503, 'temporarily_unavailable', 'The sign-in service is starting; try again shortly.');
    const params = queryParameters(req.url ?? '');
    const state = params.get('state') ?? '';
    // Taken once: a replayed callback, a state we never sent or one of another Gateway's expired logins all end here.
    const external = state && state.length <= 256 ? await this.store.takeExternalLogin(state) : null;
    if (!external) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const pending = await this.store.pending(external.transaction);
    if (!pending || pending.user) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const oidcIdp = (idp: UsableIdp) => {
      if (!(idp.idp instanceof OidcIdpSource)) throw new IdpLoginError('idp_id_token_invalid', 'the source is no longer an OpenID Provider');
      return idp.idp.completeLogin(new URL(req.url ?? '', issuer), callbackOf(issuer), { ...external, state });
    };
    await this.finish(req, res, issuer, startedAt, pending, external, oidcIdp);
  }

  /**
   * The same browser back from the IdP (the OIDC callback, the SAML continuation): its CSRF
   * cookie of the transaction, the client and source still allowed, the user verified by
   * `verify`, then provisioned or refreshed and signed in.
   */
  private async finish(
    req: IncomingMessage,
    res: ServerResponse,
    issuer: string,
    startedAt: number,
    pending: PendingAuthorization,
    external: { transaction: string; source: string },
    verify: (idp: UsableIdp) => Promise<SourceIdentity>,
  ): Promise<void> {
    const serving = this.active.current;
    if (!serving) return writeErrorPage(res, 503, 'temporarily_unavailable', 'The sign-in service is starting; try again shortly.');
    const cookies = cookiesOf(req.headers.cookie);
    if (!sameSecret(cookies.get(CSRF_COOKIE) ?? '', pending.csrf))
      return writeErrorPage(res, 403, 'csrf_failed', 'This sign-in was not started by this browser. Go back to the application and start again.');
    const now = this.clock();
    const client = oidcClientOf(serving.tokens.clients, pending.clientId);
    if (!client || !mayObtainTokens(client, now)) return writeErrorPage(res, 400, 'invalid_client', 'The application is no longer allowed to sign users in.');
    // Asked again: the client's list or the source may have changed while the user was at the IdP.
    const idp = this.allowed(client, external.source);
    if (!idp) return writeErrorPage(res, 400, 'source_not_allowed', 'This application does not offer sign-in with that identity provider.');
    const attempted = (username: string, result: LoginAttempt['result']) =>
      this.provider.recordAttempt(req, startedAt, { clientId: client.credential.id, projectId: client.credential.projectId, username, issuer, result });
    let identity: SourceIdentity;
    try {
      identity = await verify(idp);
    } catch (err) {
      const failure = err instanceof IdpLoginError ? err : new IdpLoginError('idp_id_token_invalid', String(err));
      this.log.warn({ source: external.source, reason: failure.reason, detail: failure.detail }, 'a sign-in through an external identity provider failed');
      if (failure.reason === 'idp_unavailable') attempted('', { outcome: 'unavailable', code: 'source_unavailable' });
      else attempted('', { outcome: 'rejected', reason: 'invalid_credentials', credentialId: null });
      const page = IDP_FAILURE_TEXT[failure.reason];
      return writeErrorPage(res, page.status, failure.reason, page.text);
    }
    const roles = [...new Set(identity.groups.flatMap((g) => idp.definition.roleMappings[g] ?? []))].sort();
    const login = await this.federation.link(client.credential.projectId, external.source, identity, roles, now);
    if (login.outcome === 'unavailable') {
      attempted(identity.username, { outcome: 'unavailable', code: login.code });
      return writeErrorPage(res, 503, login.code, 'Sign-in is unavailable right now. Try again later.');
    }
    if (login.outcome !== 'verified') {
      const refused = login.outcome === 'rejected' ? login.refused : undefined;
      attempted(identity.username, { outcome: 'rejected', reason: refused?.reason ?? 'invalid_credentials', credentialId: refused?.credentialId ?? null });
      return writeErrorPage(res, 403, 'account_refused', 'This account cannot sign in to this application.');
    }
    attempted(identity.username, { outcome: 'verified', credentialId: login.user.credential.id });
    await this.provider.signIn(res, issuer, client, external.transaction, pending, cookies, login.user, now);
  }

  /** "Sign in with" a SAML IdP: an AuthnRequest by HTTP-Redirect; the RelayState names the record binding its Response to this transaction. */
  private async startSaml(res: ServerResponse, issuer: string, name: string, idp: SamlIdpSource, transaction: string): Promise<void> {
    const relayState = randomBytes(32).toString('base64url');
    let started;
    try {
      started = await idp.startLogin(serviceProviderOf(issuer, name, idp), relayState);
    } catch (err) {
      this.log.warn({ source: name, err: { message: (err as Error)?.message } }, 'the SAML AuthnRequest could not be built');
      return writeErrorPage(res, 503, 'idp_unavailable', IDP_FAILURE_TEXT.idp_unavailable.text);
    }
    await this.store.saveSamlLogin(relayState, { transaction, source: name, requestId: started.requestId }, this.loginTtlSeconds);
    writeRedirect(res, started.url.href);
  }

  /**
   * The SAML ACS (HTTP-POST), reached cross-site from the IdP: the browser's SameSite=Lax cookies
   * are not sent, so the Response is bound to the login server side: its RelayState's record is
   * taken once from Redis (a replay, on this Gateway or another, finds nothing; an IdP-initiated
   * Response has none) and its InResponseTo must be that record's request id. Verified, the user
   * waits under a one-time handle for the same browser's same-site GET (`/external/saml/continue`),
   * where its CSRF cookie is checked and the user provisioned: a Response posted by another
   * browser signs no one in.
   */
  async samlAcs(req: IncomingMessage, res: ServerResponse, issuer: string, name: string): Promise<void> {
    const startedAt = performance.now();
    const serving = this.active.current;
    if (!serving) return writeErrorPage(res, 503, 'temporarily_unavailable', 'The sign-in service is starting; try again shortly.');
    let form: URLSearchParams;
    try {
      form = await formParameters(req);
    } catch (err) {
      if ((err as { status?: number }).status === 413) return writeErrorPage(res, 413, 'saml_response_too_large', 'The identity provider’s answer is too large.');
      return writeErrorPage(res, 400, 'invalid_request', 'The identity provider’s answer could not be read.');
    }
    const samlResponse = form.get('SAMLResponse') ?? '';
    const relayState = form.get('RelayState') ?? '';
    if (!samlResponse) return writeErrorPage(res, 400, 'invalid_request', 'The identity provider’s answer carries no SAMLResponse.');
    if (!relayState) return writeErrorPage(res, 400, 'unsolicited_response', 'Sign-ins started at the identity provider are not accepted: start from the application.');
    const login = relayState.length <= 128 ? await this.store.takeSamlLogin(relayState) : null;
    if (!login || login.source !== name) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const pending = await this.store.pending(login.transaction);
    if (!pending || pending.user) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const client = oidcClientOf(serving.tokens.clients, pending.clientId);
    if (!client || !mayObtainTokens(client, this.clock())) return writeErrorPage(res, 400, 'invalid_client', 'The application is no longer allowed to sign users in.');
    const idp = this.allowed(client, name);
    if (!idp || !(idp.idp instanceof SamlIdpSource)) return writeErrorPage(res, 400, 'source_not_allowed', 'This application does not offer sign-in with that identity provider.');
    let identity: SourceIdentity;
    try {
      identity = await idp.idp.completeLogin(samlResponse, serviceProviderOf(issuer, name, idp.idp), login.requestId);
    } catch (err) {
      const failure = err instanceof SamlLoginError ? err : new SamlLoginError('saml_response_invalid', String(err));
      this.log.warn({ source: name, reason: failure.reason, detail: failure.detail }, 'a SAML Response was refused');
      this.provider.recordAttempt(req, startedAt, {
        clientId: client.credential.id,
        projectId: client.credential.projectId,
        username: '',
        issuer,
        result: { outcome: 'rejected', reason: 'invalid_credentials', credentialId: null },
      });
      const status = SAML_FAILURE_STATUS[failure.reason];
      const text =
        failure.reason === 'idp_claims_refused'
          ? IDP_FAILURE_TEXT.idp_claims_refused.text
          : 'The identity provider’s answer could not be verified. Go back to the application and start again.';
      return writeErrorPage(res, status, failure.reason, text);
    }
    const handle = randomBytes(32).toString('base64url');
    await this.store.saveSamlVerified(handle, { transaction: login.transaction, source: name, identity }, SAML_VERIFIED_TTL_SECONDS);
    writeRedirect(res, `${issuer}/external/saml/continue?handle=${handle}`);
  }

  /** The browser's same-site GET after the ACS: its cookies are back, so the login ends as an OIDC callback does. */
  async samlContinue(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const startedAt = performance.now();
    let handle = '';
    try {
      handle = queryParameters(req.url ?? '').get('handle') ?? '';
    } catch {
      // A repeated parameter: no handle.
    }
    const verified = handle && handle.length <= 128 ? await this.store.takeSamlVerified(handle) : null;
    if (!verified) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    const pending = await this.store.pending(verified.transaction);
    if (!pending || pending.user) return writeErrorPage(res, 400, 'login_expired', LOGIN_EXPIRED);
    await this.finish(req, res, issuer, startedAt, pending, verified, (idp) =>
      idp.idp instanceof SamlIdpSource ? Promise.resolve(verified.identity) : Promise.reject(new IdpLoginError('idp_id_token_invalid', 'the source is no longer a SAML IdP')),
    );
  }

  /** The SP metadata of a `saml` source, for the IdP's administrator (public: it holds no secret). */
  samlMetadata(res: ServerResponse, issuer: string, name: string): void {
    const idp = SOURCE_IN_PATH.test(name) ? this.federation.externalIdp(name) : undefined;
    if (!idp || !(idp.idp instanceof SamlIdpSource)) return writeErrorPage(res, 404, 'source_not_allowed', 'No SAML identity source of that name is served here.');
    const xml = idp.idp.metadata(serviceProviderOf(issuer, name, idp.idp));
    res.writeHead(200, { 'content-type': 'application/samlmetadata+xml', 'cache-control': 'public, max-age=300', 'content-length': String(Buffer.byteLength(xml)) });
    res.end(xml);
  }

  /** The client lists the source, it is a usable `oidc` or `saml` source, System-wide or of the client's project. */
  private allowed(client: OidcClient, name: string) {
    if (!name || !(client.settings.identitySources ?? []).includes(name)) return undefined;
    const idp = this.federation.externalIdp(name);
    return idp && (idp.projectId === null || idp.projectId === client.credential.projectId) ? idp : undefined;
  }
}

/** Our SP at a SAML IdP: the entityID (the configured one, or our metadata URL) and the ACS URL (the Destination and Recipient required). */
export function serviceProviderOf(issuer: string, name: string, idp: SamlIdpSource): ServiceProvider {
  const base = `${issuer}/external/saml/${encodeURIComponent(name)}`;
  return { entityId: idp.config.spEntityId ?? `${base}/metadata`, acsUrl: `${base}/acs` };
}

/** Where the IdP sends the browser back: the redirect URI to register at the IdP. */
export function callbackOf(issuer: string): string {
  return `${issuer}/external/callback`;
}
