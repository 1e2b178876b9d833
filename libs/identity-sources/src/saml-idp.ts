import { randomBytes, X509Certificate } from 'node:crypto';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SAML, SamlStatusError, ValidateInResponseTo, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { decrypt } from 'xml-encryption';
import type { SamlSourceConfig } from '@idm/domain';
import { SourceUnavailableError, type IdentityChecker, type SourceAnswer, type SourceIdentity } from './identity-check';

/**
 * Why a SAML Response was refused (the error page's code): its signature does not verify with the
 * IdP's certificates (unsigned, another key, a wrapped assertion), it is outside its validity
 * window, for another Audience, sent to another Destination / Recipient, answers no request we
 * sent (unknown or reused InResponseTo, IdP-initiated), carries a DTD, or the IdP reported a failure;
 * a plain Assertion where the source wants them encrypted, an EncryptedAssertion our SP key cannot
 * open (encrypted to another key, no key, an insecure algorithm: RSA PKCS#1 v1.5, 3DES).
 */
export type SamlLoginFailure =
  | 'saml_signature_invalid'
  | 'saml_response_expired'
  | 'saml_audience_mismatch'
  | 'saml_destination_mismatch'
  | 'saml_in_response_to_invalid'
  | 'saml_xml_refused'
  | 'saml_response_invalid'
  | 'saml_idp_status'
  | 'saml_encryption_required'
  | 'saml_decryption_failed';

export class SamlLoginError extends Error {
  constructor(
    readonly reason: SamlLoginFailure | 'idp_claims_refused',
    /** For operators' logs; never an assertion. */
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'SamlLoginError';
  }
}

/** Where we are at the IdP: our entityID (the Audience) and ACS URL (the Destination and Recipient). */
export interface ServiceProvider {
  entityId: string;
  acsUrl: string;
}

/** The biggest decoded Response looked at (the Gateway bounds the POST body before this). */
const MAX_RESPONSE_BYTES = 200_000;

/**
 * A `saml` identity source: the Gateway as a SAML 2.0 Service Provider of one IdP, through
 * @node-saml/node-saml (AuthnRequest over HTTP-Redirect, Response over HTTP-POST; it verifies the
 * XML signature with the IdP's certificates only, refuses a Response with more than one Assertion,
 * checks Issuer, Audience, NotBefore / NotOnOrAfter and InResponseTo). What it does not check we
 * do here: no DTD at all (XXE, entity expansion), the Response's Destination and the
 * SubjectConfirmationData's Recipient are our ACS URL. An EncryptedAssertion is opened with the
 * SP key first here (reason codes of its own, no DTD in what it hides, no insecure algorithm),
 * then node-saml decrypts it again and verifies the Assertion inside like a plain one.
 *
 * InResponseTo is bound by the caller: `completeLogin` accepts exactly the request id it is given
 * (the one stored with the login transaction), so an unsolicited Response or one answering another
 * request fails here whatever node-saml's own cache would say.
 */
export class SamlIdpSource implements IdentityChecker {
  constructor(
    readonly config: SamlSourceConfig,
    /** The SP's private key (PEM) signing AuthnRequests and decrypting Assertions; null: requests go unsigned, encrypted Assertions are refused. */
    private readonly spKey: string | null,
  ) {}

  /** No password to check, no server to reach: "test connection" proves the certificates parse. */
  check(): Promise<SourceAnswer> {
    try {
      for (const cert of this.certificates()) new X509Certificate(cert);
    } catch (err) {
      return Promise.reject(new SourceUnavailableError('source_misconfigured', `an IdP certificate does not parse: ${(err as Error).message}`));
    }
    return Promise.resolve({ outcome: 'rejected' });
  }

  async close(): Promise<void> {}

  /** The AuthnRequest's redirect URL and the request id its Response must answer. */
  async startLogin(sp: ServiceProvider, relayState: string): Promise<{ url: URL; requestId: string }> {
    const requestId = `_${randomBytes(20).toString('hex')}`;
    const url = await this.saml(sp, null, requestId).getAuthorizeUrlAsync(relayState, undefined, {});
    return { url: new URL(url), requestId };
  }

  /** The user the verified Response names, once every check passed and the required attributes hold. */
  async completeLogin(samlResponse: string, sp: ServiceProvider, requestId: string): Promise<SourceIdentity> {
    const xml = decodeResponse(samlResponse);
    await this.requireReadableAssertion(xml);
    let profile: Profile | null;
    try {
      ({ profile } = await this.saml(sp, requestId, requestId).validatePostResponseAsync({ SAMLResponse: samlResponse }));
    } catch (err) {
      throw failureOf(err);
    }
    if (profile === null) throw new SamlLoginError('saml_response_invalid', 'the message is a logout, not a login Response');
    const destination = rootAttribute(xml, 'Destination');
    if (destination !== sp.acsUrl) throw new SamlLoginError('saml_destination_mismatch', `the Response's Destination is ${destination ?? 'missing'}, not ${sp.acsUrl}`);
    const recipients = recipientsOf(profile);
    if (recipients.length === 0 || recipients.some((r) => r !== sp.acsUrl))
      throw new SamlLoginError('saml_destination_mismatch', `the Assertion's Recipient is ${recipients.join(', ') || 'missing'}, not ${sp.acsUrl}`);
    return identityOfProfile(this.config, profile);
  }

  /**
   * Our SP metadata for the IdP's administrator: entityID, ACS (HTTP-POST), signed assertions
   * wanted, and with the SP key our certificate twice: for signing (AuthnRequests) and for
   * encryption (the IdP encrypts Assertions to it).
   */
  metadata(sp: ServiceProvider): string {
    // The certificate is published only when the key is there too (node-saml needs both, or neither).
    const certificate = this.spKey !== null && this.config.spCertificate !== undefined ? samlCertificatePem(this.config.spCertificate) : null;
    return this.saml(sp, null, '_', certificate !== null ? this.spKey : null).generateServiceProviderMetadata(certificate, certificate);
  }

  /**
   * The Response's Assertion as it arrived, before node-saml: plain where encryption is required
   * is refused; an EncryptedAssertion must open with our key (secure algorithms only) and hide no DTD.
   */
  private async requireReadableAssertion(xml: string): Promise<void> {
    const root = parseXml(xml)?.documentElement;
    if (!root) throw new SamlLoginError('saml_response_invalid', 'the Response is not well-formed XML');
    // By local name, as node-saml selects them: a namespace trick must not hide one from this check.
    const children = Array.from(root.childNodes).filter((n): n is Element => n.nodeType === 1);
    const plain = children.filter((e) => e.localName === 'Assertion').length;
    const encrypted = children.filter((e) => e.localName === 'EncryptedAssertion');
    if (this.config.requireEncryptedAssertions && plain > 0) throw new SamlLoginError('saml_encryption_required', 'the Assertion is not encrypted and the source requires it');
    // More than one Assertion is node-saml's refusal (signature scope); one encrypted is opened here.
    if (encrypted.length !== 1 || plain > 0) return;
    if (this.spKey === null) throw new SamlLoginError('saml_decryption_failed', 'the Assertion is encrypted and the source has no SP key');
    let opened: string;
    try {
      opened = await new Promise<string>((resolve, reject) =>
        decrypt(
          new XMLSerializer().serializeToString(encrypted[0]!),
          { key: this.spKey!, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false },
          (err, result) => (err ? reject(err) : resolve(result)),
        ),
      );
    } catch (err) {
      throw new SamlLoginError('saml_decryption_failed', `the EncryptedAssertion does not open with the SP key: ${(err as Error)?.message ?? String(err)}`);
    }
    if (/<!DOCTYPE|<!ENTITY/i.test(opened)) throw new SamlLoginError('saml_xml_refused', 'the encrypted Assertion declares a DTD');
  }

  private saml(sp: ServiceProvider, expectedRequestId: string | null, requestId: string, key = this.spKey): SAML {
    return new SAML({
      entryPoint: this.config.ssoUrl,
      issuer: sp.entityId,
      audience: sp.entityId,
      callbackUrl: sp.acsUrl,
      idpIssuer: this.config.idpEntityId,
      idpCert: this.certificates(),
      wantAssertionsSigned: this.config.wantAssertionsSigned,
      wantAuthnResponseSigned: this.config.wantResponseSigned,
      acceptedClockSkewMs: this.config.clockSkewSeconds * 1000,
      identifierFormat: null,
      disableRequestedAuthnContext: true,
      validateInResponseTo: ValidateInResponseTo.always,
      cacheProvider: exactly(expectedRequestId),
      generateUniqueId: () => requestId,
      ...(key !== null && { privateKey: key, signatureAlgorithm: 'sha256' as const, decryptionPvk: key }),
    });
  }

  private certificates(): string[] {
    return this.config.idpCertificates.map(samlCertificatePem);
  }
}

/** PEM with its armour whatever the admin pasted (a PEM, or the base64 body metadata carries). */
export function samlCertificatePem(certificate: string): string {
  const body = certificate.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** node-saml's InResponseTo cache, answering for one request id only (ours, taken from Redis once by the caller). */
function exactly(requestId: string | null): CacheProvider {
  return {
    saveAsync: async () => null,
    getAsync: async (key: string) => (requestId !== null && key === requestId ? new Date().toISOString() : null),
    removeAsync: async () => null,
  };
}

/** The decoded XML, refused before any parser sees it when it is too big or declares a DTD (XXE, billion laughs). */
function decodeResponse(samlResponse: string): string {
  if (samlResponse.length > (MAX_RESPONSE_BYTES * 4) / 3 + 4) throw new SamlLoginError('saml_response_invalid', 'the Response is too large');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (!xml.includes('<')) throw new SamlLoginError('saml_response_invalid', 'the SAMLResponse is not base64 XML');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlLoginError('saml_xml_refused', 'the Response declares a DTD');
  return xml;
}

/** The parsed document (xmldom: no DTD ever reaches it, see decodeResponse), or null when it is not XML. */
function parseXml(xml: string): Document | null {
  try {
    return new DOMParser({ errorHandler: () => undefined }).parseFromString(xml, 'text/xml');
  } catch {
    return null;
  }
}

function rootAttribute(xml: string, name: string): string | null {
  const root = parseXml(xml)?.documentElement;
  return root?.hasAttribute(name) ? root.getAttribute(name) : null;
}

/** Every SubjectConfirmationData's Recipient in the verified Assertion (as node-saml parsed it). */
function recipientsOf(profile: Profile): string[] {
  const assertion = profile.getAssertion?.() as { Assertion?: { Subject?: { SubjectConfirmation?: { SubjectConfirmationData?: { $?: { Recipient?: string } }[] }[] }[] } };
  return (assertion?.Assertion?.Subject ?? []).flatMap((s) => (s.SubjectConfirmation ?? []).flatMap((c) => (c.SubjectConfirmationData ?? []).map((d) => d.$?.Recipient ?? '')));
}

/** An attribute's values, or the NameID for `nameID`. */
function valuesOf(profile: Profile, name: string): string[] {
  if (name === 'nameID') return typeof profile.nameID === 'string' ? [profile.nameID] : [];
  const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
  if (!Object.hasOwn(attributes, name)) return [];
  const value = attributes[name];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/** The username, email, display name and groups the mapping names; the required attributes checked first. */
export function identityOfProfile(config: SamlSourceConfig, profile: Profile): SourceIdentity {
  for (const [name, allowed] of Object.entries(config.requiredAttributes)) {
    const values = valuesOf(profile, name);
    if (values.length === 0) throw new SamlLoginError('idp_claims_refused', `the Assertion lacks the required attribute ${name}`);
    if (allowed.length > 0 && !values.some((v) => allowed.includes(v)))
      throw new SamlLoginError('idp_claims_refused', `the Assertion's attribute ${name} has none of the allowed values`);
  }
  const text = (name: string) => {
    const [value] = valuesOf(profile, name);
    return value !== undefined && value.length > 0 && value.length <= 256 && !/[\u0000-\u001f\u007f]/.test(value) ? value : null;
  };
  const username = text(config.attributes.username);
  if (username === null) throw new SamlLoginError('idp_claims_refused', `the Assertion has no usable username (${config.attributes.username})`);
  const groups = valuesOf(profile, config.attributes.groups)
    .flatMap((g) => g.split(','))
    .map((g) => g.trim())
    .filter((g) => g.length > 0 && g.length <= 256)
    .slice(0, 200);
  return { username, email: text(config.attributes.email), displayName: text(config.attributes.displayName), groups };
}

/** node-saml's error, as the reason the page shows (its message only goes to the log). */
function failureOf(err: unknown): SamlLoginError {
  if (err instanceof SamlLoginError) return err;
  if (err instanceof SamlStatusError) return new SamlLoginError('saml_idp_status', err.message);
  const message = (err as Error)?.message ?? String(err);
  if (/InResponseTo/i.test(message)) return new SamlLoginError('saml_in_response_to_invalid', message);
  if (/audience/i.test(message)) return new SamlLoginError('saml_audience_mismatch', message);
  // node-saml's only checks of a bearer SubjectConfirmation are its NotBefore / NotOnOrAfter: none valid is a time failure.
  if (/expired|NotOnOrAfter|NotBefore|not yet valid|too old|valid subject confirmation/i.test(message)) return new SamlLoginError('saml_response_expired', message);
  if (/signature|signed|Invalid document|cert/i.test(message)) return new SamlLoginError('saml_signature_invalid', message);
  if (/issuer/i.test(message)) return new SamlLoginError('saml_response_invalid', message);
  return new SamlLoginError('saml_response_invalid', message);
}
