import { Injectable, Logger } from '@nestjs/common';
import { IdpLoginError } from '@idm/identity-sources';
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { OperatorAuthService } from '../auth/operator-auth.service';
import { ProblemError } from '../problems/problem.error';
import { FederatedOperators } from './federated-operators';
import { OidcOperatorSources } from './oidc-operator-sources';
import { SsoLoginStore, type SsoHandoff } from './sso-login-store';

/** How long the operator may take at the IdP. */
export const PENDING_TTL_SECONDS = 600;
/** How long the console has to collect the result after the callback's redirect (one page load). */
export const HANDOFF_TTL_SECONDS = 60;

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

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const sameDigest = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Operator single sign-on through an external OpenID Provider (an `oidc` System identity source
 * with `operatorLogin`): the authorization code flow with PKCE, state and nonce, the ID token
 * verified by openid-client, its claims mapped as for end users, the operator provisioned exactly
 * as a password source's (FederatedOperators: group bindings -> roles), then handed to the
 * console. The pending login is bound to the browser that started it (a random value in an
 * HttpOnly cookie, its digest in the record): a callback carried to another browser, or forged
 * cross-site, is refused. The result is another one-use record the console collects with a
 * same-site POST, where the session is opened as a password login's: no token in any URL.
 */
@Injectable()
export class OperatorSsoFlow {
  private readonly logger = new Logger('OperatorSso');

  constructor(
    private readonly sources: OidcOperatorSources,
    private readonly store: SsoLoginStore,
    private readonly federated: FederatedOperators,
    private readonly auth: OperatorAuthService,
  ) {}

  /** The IdP's authorization URL, and the browser binding to set as a cookie. */
  async start(sourceName: string, redirectUri: string): Promise<{ location: string; browserKey: string }> {
    const { idp } = await this.sources.usable(sourceName);
    let started;
    try {
      started = await idp.startLogin(redirectUri);
    } catch (err) {
      this.logger.warn(`operator SSO: ${sourceName} could not be reached to start a sign-in: ${(err as Error)?.message}`);
      throw problemOf(err instanceof IdpLoginError ? err : new IdpLoginError('idp_unavailable', String(err)));
    }
    const browserKey = randomBytes(32).toString('base64url');
    await this.store.savePending(
      started.state,
      { source: sourceName, nonce: started.nonce, verifier: started.verifier, redirectUri, browser: sha256(browserKey) },
      PENDING_TTL_SECONDS,
    );
    return { location: started.url.href, browserKey };
  }

  /**
   * The IdP's redirect back: the pending login taken once by its state, the same browser, the
   * source still usable, the code exchanged and the ID token verified, the operator provisioned.
   * What the console will collect (the operator, or the refusal).
   */
  async callback(sourceName: string, callbackUrl: URL, browserKey: string | undefined): Promise<SsoHandoff> {
    try {
      const operator = await this.verify(sourceName, callbackUrl, browserKey);
      return { outcome: 'signed-in', operator, source: sourceName };
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      this.logger.warn(`operator SSO through ${sourceName} refused: ${err.code}`);
      return { outcome: 'refused', problem: { status: err.status, code: err.code, title: err.title, detail: err.detail } };
    }
  }

  /** The console's collection of a callback's result: a new session, or the refusal as a problem. */
  async collect(handoffKey: string | undefined) {
    const handoff = handoffKey && handoffKey.length <= 128 ? await this.store.takeHandoff(handoffKey) : null;
    if (!handoff)
      throw new ProblemError(401, 'sso_handoff_invalid', 'No sign-in to complete', 'this single sign-on was already completed, expired or never started here; sign in again');
    if (handoff.outcome === 'refused') {
      const { status, code, title, detail } = handoff.problem;
      throw new ProblemError(status, code, title, detail);
    }
    const session = await this.auth.openSession(handoff.operator, `sso:${handoff.source}`);
    return { ...session, username: handoff.operator.username };
  }

  private async verify(sourceName: string, callbackUrl: URL, browserKey: string | undefined) {
    const state = callbackUrl.searchParams.get('state') ?? '';
    if (!state) throw new ProblemError(400, 'sso_state_missing', 'The sign-in has no state', 'the identity provider’s answer carries no state; start again');
    const pending = state.length <= 256 ? await this.store.takePending(state) : null;
    // Taken once: a replayed callback, a forged state or an expired sign-in all end here.
    if (!pending || pending.source !== sourceName)
      throw new ProblemError(400, 'sso_state_invalid', 'The sign-in expired', 'this sign-in was already used, expired or never started; start again');
    if (!browserKey || !sameDigest(sha256(browserKey), pending.browser))
      throw new ProblemError(403, 'sso_state_mismatch', 'The sign-in was started elsewhere', 'this sign-in was not started by this browser; start again from the sign-in page');
    // Asked again: the source may have been disabled while the operator was at the IdP.
    const { row, idp } = await this.sources.usable(sourceName);
    let identity;
    try {
      identity = await idp.completeLogin(callbackUrl, pending.redirectUri, { ...pending, state });
    } catch (err) {
      const failure = err instanceof IdpLoginError ? err : new IdpLoginError('idp_id_token_invalid', String(err));
      this.logger.warn(`operator SSO through ${sourceName}: ${failure.reason}: ${failure.detail}`);
      throw problemOf(failure);
    }
    const operator = await this.federated.provision(row, identity, { requireBinding: true });
    if (operator.bindings === 0)
      throw new ProblemError(
        403,
        'operator_no_role_binding',
        'No Manager role for your groups',
        `none of your groups at '${sourceName}' is bound to a Manager role; ask an administrator to map one of your groups`,
      );
    return { id: operator.id, username: operator.username };
  }
}

function problemOf(failure: IdpLoginError): ProblemError {
  const p = IDP_PROBLEMS[failure.reason];
  return new ProblemError(p.status, failure.reason, p.title, p.detail);
}
