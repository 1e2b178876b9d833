import { Injectable, Logger } from '@nestjs/common';
import { SamlLoginError, type SamlIdpSource, type ServiceProvider, type SourceIdentity } from '@idm/identity-sources';
import { randomBytes } from 'node:crypto';
import { ProblemError } from '../problems/problem.error';
import type { IdentitySourceRow } from '../repositories/identity-source.repository';
import { ExternalOperatorSources } from './external-operator-sources';
import { PENDING_TTL_SECONDS, refusalOf, requireSameBrowser, sha256, SsoAdmission } from './sso-admission';
import { SSO_PATH } from './sso-cookies';
import { SsoLoginStore, type SsoHandoff } from './sso-login-store';

/** How long a verified Response waits for the browser's GET (one redirect away). */
const VERIFIED_TTL_SECONDS = 60;

/** identity-sources' reasons for refusing a Response, as the problems the console shows (node-saml's detail only in the log). */
const SAML_PROBLEMS: Record<SamlLoginError['reason'], { status: number; title: string; detail: string }> = {
  saml_signature_invalid: {
    status: 401,
    title: 'The identity provider’s answer could not be verified',
    detail: 'the SAML Assertion is not signed by the identity provider’s key; start again',
  },
  saml_response_expired: { status: 401, title: 'The identity provider’s answer expired', detail: 'the SAML Assertion is outside its validity window; start again' },
  saml_audience_mismatch: { status: 401, title: 'The identity provider’s answer is for another service', detail: 'the SAML Assertion’s Audience is not this Manager; start again' },
  saml_destination_mismatch: {
    status: 401,
    title: 'The identity provider’s answer is for another service',
    detail: 'the SAML Response’s Destination or Recipient is not this Manager’s ACS; start again',
  },
  saml_in_response_to_invalid: {
    status: 401,
    title: 'The identity provider’s answer is for another sign-in',
    detail: 'the SAML Response does not answer the request this sign-in sent; start again',
  },
  saml_response_invalid: { status: 400, title: 'The identity provider’s answer is malformed', detail: 'the SAML Response could not be read; start again' },
  saml_xml_refused: { status: 400, title: 'The identity provider’s answer is refused', detail: 'the SAML Response declares a DTD, which is never accepted; start again' },
  saml_idp_status: { status: 401, title: 'The identity provider did not sign you in', detail: 'the identity provider answered with an error status; start again' },
  saml_encryption_required: {
    status: 401,
    title: 'The identity provider’s answer is not encrypted',
    detail: 'this source accepts only SAML Assertions encrypted to the Manager’s key; start again',
  },
  saml_decryption_failed: {
    status: 401,
    title: 'The identity provider’s answer could not be decrypted',
    detail: 'the SAML Assertion is not encrypted to this source’s key (or with an algorithm refused); start again',
  },
  idp_claims_refused: { status: 403, title: 'Your account may not sign in here', detail: 'your account at the identity provider lacks an attribute this source requires' },
};

/** Our SP at the IdP for operators: the entityID (the configured one, or our metadata URL) and the ACS URL, both under this Manager's origin. */
export function operatorServiceProvider(origin: string, name: string, idp: SamlIdpSource): ServiceProvider {
  const base = `${origin}${SSO_PATH}/${encodeURIComponent(name)}`;
  return { entityId: idp.config.spEntityId ?? `${base}/metadata`, acsUrl: `${base}/acs` };
}

/**
 * Operator single sign-on through a SAML 2.0 IdP (a `saml` System identity source with
 * `operatorLogin`), the Manager as a Service Provider with identity-sources' SamlIdpSource
 * (@node-saml/node-saml: signed Assertion required, Issuer, Audience, NotBefore / NotOnOrAfter,
 * InResponseTo; our checks: no DTD, Destination and Recipient are our ACS).
 *
 * The start sends an AuthnRequest by HTTP-Redirect and keeps it in Redis under a random
 * RelayState, with the request id, our SP and the digest of the browser binding cookie
 * (`idm_sso_pending`, as for OIDC). The IdP's Response comes back as a cross-site HTTP-POST, which
 * carries no SameSite cookie, so the ACS binds it server side: the RelayState's record is taken
 * once (a replayed Response, on any Manager instance, finds nothing — the replay cache), and the
 * Response's InResponseTo must be exactly its request id. The verified identity then waits under a
 * one-use handle for the browser's top-level GET to `/continue`, which carries the binding cookie:
 * a Response posted from another browser signs no one in. Only there is the operator admitted
 * (provisioned, audited) and handed to the console as every single sign-on is.
 */
@Injectable()
export class SamlOperatorSso {
  private readonly logger = new Logger('OperatorSso');

  constructor(
    private readonly sources: ExternalOperatorSources,
    private readonly store: SsoLoginStore,
    private readonly admission: SsoAdmission,
  ) {}

  /** The IdP's SSO URL with our AuthnRequest, and the browser binding to set as a cookie. */
  async start(row: IdentitySourceRow, idp: SamlIdpSource, origin: string): Promise<{ location: string; browserKey: string }> {
    const relayState = randomBytes(32).toString('base64url');
    const sp = operatorServiceProvider(origin, row.name, idp);
    let started;
    try {
      started = await idp.startLogin(sp, relayState);
    } catch (err) {
      this.logger.warn(`operator SSO: the SAML AuthnRequest for ${row.name} could not be built: ${(err as Error)?.message}`);
      throw new ProblemError(503, 'source_misconfigured', 'The sign-in source is misconfigured', `a SAML AuthnRequest for '${row.name}' could not be built`);
    }
    const browserKey = randomBytes(32).toString('base64url');
    await this.store.savePendingSaml(relayState, { source: row.name, requestId: started.requestId, sp, browser: sha256(browserKey) }, PENDING_TTL_SECONDS);
    return { location: started.url.href, browserKey };
  }

  /** The ACS: the Response verified against the sign-in its RelayState names, kept for the browser's GET under the returned handle; or the refusal. */
  async acs(sourceName: string, form: URLSearchParams): Promise<{ handle: string } | SsoHandoff> {
    try {
      const { identity, browser } = await this.verify(sourceName, form);
      const handle = randomBytes(32).toString('base64url');
      await this.store.saveVerifiedSaml(handle, { source: sourceName, identity, browser }, VERIFIED_TTL_SECONDS);
      return { handle };
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      this.logger.warn(`operator SSO through ${sourceName} refused at the ACS: ${err.code}`);
      return refusalOf(err);
    }
  }

  /** The same browser back after the ACS (its binding cookie sent again on this top-level GET): the operator admitted, or the refusal. */
  continue(sourceName: string, handle: string, browserKey: string | undefined): Promise<SsoHandoff> {
    return this.admission.settle(sourceName, async () => {
      const verified = handle && handle.length <= 128 ? await this.store.takeVerifiedSaml(handle) : null;
      if (!verified || verified.source !== sourceName)
        throw new ProblemError(400, 'sso_state_invalid', 'The sign-in expired', 'this sign-in was already used, expired or never started; start again');
      requireSameBrowser(browserKey, verified.browser);
      // Asked again: the source may have been disabled or changed since the ACS.
      const source = await this.sources.usable(sourceName);
      if (source.type !== 'saml') throw new ProblemError(400, 'sso_state_invalid', 'The sign-in expired', 'the source is no longer a SAML IdP; start again');
      return this.admission.admit(source.row, verified.identity);
    });
  }

  /** Our SP metadata for the IdP's administrator (entityID, ACS with HTTP-POST, signed Assertions wanted). */
  async metadata(sourceName: string, origin: string): Promise<string> {
    const source = await this.sources.usable(sourceName);
    if (source.type !== 'saml') throw new ProblemError(404, 'sso_source_unknown', 'Unknown sign-in source', `'${sourceName}' is not a SAML identity source`);
    return source.idp.metadata(operatorServiceProvider(origin, sourceName, source.idp));
  }

  private async verify(sourceName: string, form: URLSearchParams): Promise<{ identity: SourceIdentity; browser: string }> {
    const [samlResponse, ...moreResponses] = form.getAll('SAMLResponse');
    const [relayState, ...moreStates] = form.getAll('RelayState');
    if (!samlResponse || moreResponses.length > 0 || moreStates.length > 0)
      throw new ProblemError(
        400,
        'saml_response_missing',
        'The identity provider’s answer is missing',
        'the ACS takes one SAMLResponse (and one RelayState) posted by the identity provider',
      );
    if (!relayState)
      throw new ProblemError(400, 'saml_unsolicited', 'Sign-ins started at the identity provider are refused', 'start the sign-in from the Manager’s sign-in screen');
    // Taken once: a replayed Response, a RelayState we never sent or an expired sign-in all end here.
    const pending = relayState.length <= 128 ? await this.store.takePendingSaml(relayState) : null;
    if (!pending || pending.source !== sourceName)
      throw new ProblemError(400, 'sso_state_invalid', 'The sign-in expired', 'this sign-in was already used, expired or never started; start again');
    const source = await this.sources.usable(sourceName);
    if (source.type !== 'saml') throw new ProblemError(400, 'sso_state_invalid', 'The sign-in expired', 'the source is no longer a SAML IdP; start again');
    try {
      return { identity: await source.idp.completeLogin(samlResponse, pending.sp, pending.requestId), browser: pending.browser };
    } catch (err) {
      const failure = err instanceof SamlLoginError ? err : new SamlLoginError('saml_response_invalid', String(err));
      this.logger.warn(`operator SSO through ${sourceName}: ${failure.reason}: ${failure.detail}`);
      const p = SAML_PROBLEMS[failure.reason];
      throw new ProblemError(p.status, failure.reason, p.title, p.detail);
    }
  }
}
