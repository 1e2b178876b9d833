import { Injectable, Logger } from '@nestjs/common';
import { IdpLoginError, type OidcIdpSource } from '@idm/identity-sources';
import { randomBytes } from 'node:crypto';
import { ProblemError } from '../problems/problem.error';
import type { IdentitySourceRow } from '../repositories/identity-source.repository';
import { ExternalOperatorSources } from './external-operator-sources';
import { PENDING_TTL_SECONDS, requireSameBrowser, sha256, SsoAdmission } from './sso-admission';
import { SsoLoginStore, type SsoHandoff } from './sso-login-store';

/** The IdP's refusals (identity-sources' reasons) as the problems the console shows. */
const IDP_PROBLEMS: Record<IdpLoginError['reason'], { status: number; title: string; detail: string }> = {
  idp_login_failed: { status: 401, title: 'The identity provider did not sign you in', detail: 'the identity provider answered with an error (cancelled or refused); start again' },
  idp_code_rejected: {
    status: 401,
    title: 'The identity provider refused this sign-in',
    detail: 'the identity provider refused the authorization code (used, expired or foreign); start again',
  },
  idp_id_token_invalid: {
    status: 401,
    title: 'The identity provider’s answer could not be verified',
    detail: 'the ID token failed verification (signature, issuer, audience, nonce or expiry); start again',
  },
  idp_claims_refused: { status: 403, title: 'Your account may not sign in here', detail: 'your account at the identity provider lacks a claim this source requires' },
  idp_unavailable: { status: 503, title: 'The identity provider cannot be reached', detail: 'the identity provider could not be reached; try again later' },
};

/**
 * Operator single sign-on through an external OpenID Provider (an `oidc` System identity source
 * with `operatorLogin`): the authorization code flow with PKCE, state and nonce, the ID token
 * verified by openid-client, its claims mapped as for end users, then admitted and handed to the
 * console by {@link SsoAdmission} as every single sign-on is. The pending login is bound to the
 * browser that started it (a random value in an HttpOnly cookie, its digest in the record): a
 * callback carried to another browser, or forged cross-site, is refused.
 */
@Injectable()
export class OidcOperatorSso {
  private readonly logger = new Logger('OperatorSso');

  constructor(
    private readonly sources: ExternalOperatorSources,
    private readonly store: SsoLoginStore,
    private readonly admission: SsoAdmission,
  ) {}

  /** The IdP's authorization URL, and the browser binding to set as a cookie. */
  async start(row: IdentitySourceRow, idp: OidcIdpSource, redirectUri: string): Promise<{ location: string; browserKey: string }> {
    let started;
    try {
      started = await idp.startLogin(redirectUri);
    } catch (err) {
      this.logger.warn(`operator SSO: ${row.name} could not be reached to start a sign-in: ${(err as Error)?.message}`);
      throw problemOf(err instanceof IdpLoginError ? err : new IdpLoginError('idp_unavailable', String(err)));
    }
    const browserKey = randomBytes(32).toString('base64url');
    await this.store.savePending(
      started.state,
      { source: row.name, nonce: started.nonce, verifier: started.verifier, redirectUri, browser: sha256(browserKey) },
      PENDING_TTL_SECONDS,
    );
    return { location: started.url.href, browserKey };
  }

  /**
   * The IdP's redirect back: the pending login taken once by its state, the same browser, the
   * source still usable, the code exchanged and the ID token verified, the operator admitted.
   * What the console will collect (the operator, or the refusal).
   */
  callback(sourceName: string, callbackUrl: URL, browserKey: string | undefined): Promise<SsoHandoff> {
    return this.admission.settle(sourceName, () => this.verify(sourceName, callbackUrl, browserKey));
  }

  private async verify(sourceName: string, callbackUrl: URL, browserKey: string | undefined) {
    const state = callbackUrl.searchParams.get('state') ?? '';
    if (!state) throw new ProblemError(400, 'sso_state_missing', 'The sign-in has no state', 'the identity provider’s answer carries no state; start again');
    const pending = state.length <= 256 ? await this.store.takePending(state) : null;
    // Taken once: a replayed callback, a forged state or an expired sign-in all end here.
    if (!pending || pending.source !== sourceName)
      throw new ProblemError(400, 'sso_state_invalid', 'The sign-in expired', 'this sign-in was already used, expired or never started; start again');
    requireSameBrowser(browserKey, pending.browser);
    // Asked again: the source may have been disabled while the operator was at the IdP.
    const source = await this.sources.usable(sourceName);
    if (source.type !== 'oidc') throw new ProblemError(400, 'sso_state_invalid', 'The sign-in expired', 'the source is no longer an OpenID Provider; start again');
    let identity;
    try {
      identity = await source.idp.completeLogin(callbackUrl, pending.redirectUri, { ...pending, state });
    } catch (err) {
      const failure = err instanceof IdpLoginError ? err : new IdpLoginError('idp_id_token_invalid', String(err));
      this.logger.warn(`operator SSO through ${sourceName}: ${failure.reason}: ${failure.detail}`);
      throw problemOf(failure);
    }
    return this.admission.admit(source.row, identity);
  }
}

function problemOf(failure: IdpLoginError): ProblemError {
  const p = IDP_PROBLEMS[failure.reason];
  return new ProblemError(p.status, failure.reason, p.title, p.detail);
}
