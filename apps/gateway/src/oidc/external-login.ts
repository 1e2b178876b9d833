import type { IdentitySourceDefinition } from '@idm/domain';
import { IdpLoginError, type OidcIdpSource, type SourceIdentity } from '@idm/identity-sources';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ActiveConfiguration } from '../serving/active-configuration';
import { mayObtainTokens, type TokenClient } from '../serving/token-clients';
import { queryParameters } from '../token-service/token-parameters';
import { oidcClientOf, type OidcClient } from './authorization-request';
import { cookiesOf, CSRF_COOKIE } from './cookies';
import type { EndUserLogin } from './end-user-password-validator';
import { writeErrorPage, writeRedirect } from './login-page';
import type { LoginAttempt } from './login-records';
import type { OidcStore, PendingAuthorization } from './oidc-store';
import { LOGIN_EXPIRED, readTransactionForm, sameSecret } from './transaction-form';

/** What the flow needs of the Gateway's identity sources: the `oidc` ones by name, and just-in-time provisioning. */
export interface ExternalIdpFederation {
  externalIdp(name: string): { definition: IdentitySourceDefinition; idp: OidcIdpSource; projectId: string | null } | undefined;
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
  ) {}

  /** The IdPs the client offers, in its order, with the origin of each (for the page's CSP). */
  offeredTo(client: OidcClient): { name: string; origin: string }[] {
    return (client.settings.identitySources ?? []).flatMap((name) => {
      const idp = this.allowed(client, name);
      return idp ? [{ name, origin: new URL(idp.idp.config.issuer).origin }] : [];
    });
  }

  async start(req: IncomingMessage, res: ServerResponse, issuer: string): Promise<void> {
    const read = await readTransactionForm(req, res, this.active, this.store, 'login');
    if (read === null) return;
    const { serving, form, transaction, pending } = read;
    const client = oidcClientOf(serving.tokens.clients, pending.clientId);
    if (!client || !mayObtainTokens(client, this.clock())) return writeErrorPage(res, 400, 'invalid_client', 'The application is no longer allowed to sign users in.');
    const name = form.get('source') ?? '';
    const idp = this.allowed(client, name);
    if (!idp) return writeErrorPage(res, 400, 'source_not_allowed', 'This application does not offer sign-in with that identity provider.');
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
      identity = await idp.idp.completeLogin(new URL(req.url ?? '', issuer), callbackOf(issuer), { ...external, state });
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

  /** The client lists the source, it is a usable `oidc` source, System-wide or of the client's project. */
  private allowed(client: OidcClient, name: string) {
    if (!name || !(client.settings.identitySources ?? []).includes(name)) return undefined;
    const idp = this.federation.externalIdp(name);
    return idp && (idp.projectId === null || idp.projectId === client.credential.projectId) ? idp : undefined;
  }
}

/** Where the IdP sends the browser back: the redirect URI to register at the IdP. */
export function callbackOf(issuer: string): string {
  return `${issuer}/external/callback`;
}
