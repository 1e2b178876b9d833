import { X509Certificate } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { samlCertificatePem } from './saml-idp';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SAML2_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
/** The most signing certificates a source holds (samlSourceConfigSchema). */
const MAX_CERTIFICATES = 5;
/** Bigger than any one IdP's metadata; an aggregate of a federation is not what is imported here. */
export const MAX_METADATA_CHARS = 500_000;

/** What an IdP's metadata gives a `saml` source: its entityID, SSO URL (HTTP-Redirect) and signing certificates (base64 DER). */
export interface IdpMetadata {
  idpEntityId: string;
  ssoUrl: string;
  idpCertificates: string[];
}

/**
 * Why metadata was not imported: `saml_metadata_refused` (a DTD or entity declaration — XXE,
 * entity expansion — refused before any parser sees it; too large), `saml_metadata_invalid`
 * (not well-formed, no single IdP entity, no SingleSignOnService for HTTP-Redirect, no signing
 * certificate, a certificate that does not parse).
 */
export class SamlMetadataError extends Error {
  constructor(
    readonly reason: 'saml_metadata_refused' | 'saml_metadata_invalid',
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'SamlMetadataError';
  }
}

const invalid = (detail: string) => new SamlMetadataError('saml_metadata_invalid', detail);

/**
 * The IdP's entityID, SingleSignOnService location for HTTP-Redirect (the binding our
 * AuthnRequests use) and signing certificates (KeyDescriptors with `use="signing"` or no use),
 * read with @xmldom/xmldom from an EntityDescriptor, or from an EntitiesDescriptor holding exactly
 * one IdP. The metadata's own signature is not checked: the admin vouches for the file they paste.
 */
export function parseIdpMetadata(xml: string): IdpMetadata {
  if (xml.length > MAX_METADATA_CHARS) throw new SamlMetadataError('saml_metadata_refused', `the metadata is larger than ${MAX_METADATA_CHARS} characters`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlMetadataError('saml_metadata_refused', 'the metadata declares a DTD or an entity, which is never accepted');
  const errors: string[] = [];
  let doc: Document;
  try {
    doc = new DOMParser({ errorHandler: { warning: () => undefined, error: (m: string) => errors.push(m), fatalError: (m: string) => errors.push(m) } }).parseFromString(
      xml,
      'text/xml',
    );
  } catch (err) {
    throw invalid(`the metadata is not well-formed XML: ${(err as Error)?.message ?? String(err)}`);
  }
  const root = doc?.documentElement;
  if (errors.length > 0 || !root) throw invalid(`the metadata is not well-formed XML${errors[0] ? `: ${errors[0].split('\n')[0]}` : ''}`);
  if (root.namespaceURI !== MD || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor'))
    throw invalid('the metadata is not a SAML 2.0 EntityDescriptor (or EntitiesDescriptor)');

  const idps = elements(root, MD, 'IdPSSODescriptor').filter((d) => (d.getAttribute('protocolSupportEnumeration') ?? '').split(/\s+/).includes(SAML2_PROTOCOL));
  if (idps.length === 0) throw invalid('the metadata has no IdPSSODescriptor for the SAML 2.0 protocol: it does not describe an identity provider');
  if (idps.length > 1) throw invalid(`the metadata describes ${idps.length} identity providers: import the EntityDescriptor of one`);
  const idp = idps[0]!;
  const entity = idp.parentNode as Element | null;
  const idpEntityId = entity?.localName === 'EntityDescriptor' ? (entity.getAttribute('entityID') ?? '').trim() : '';
  if (idpEntityId === '') throw invalid('the identity provider’s EntityDescriptor has no entityID');

  const redirect = elements(idp, MD, 'SingleSignOnService').find((s) => s.getAttribute('Binding') === HTTP_REDIRECT);
  const ssoUrl = (redirect?.getAttribute('Location') ?? '').trim();
  if (ssoUrl === '') throw invalid('the identity provider has no SingleSignOnService with the HTTP-Redirect binding (the binding our AuthnRequests use)');

  const certificates: string[] = [];
  for (const descriptor of elements(idp, MD, 'KeyDescriptor')) {
    const use = descriptor.getAttribute('use');
    if (use !== null && use !== '' && use !== 'signing') continue;
    for (const cert of elements(descriptor, DS, 'X509Certificate')) {
      const body = (cert.textContent ?? '').replace(/\s+/g, '');
      if (body === '' || certificates.includes(body)) continue;
      try {
        new X509Certificate(samlCertificatePem(body));
      } catch {
        throw invalid('a signing certificate of the identity provider does not parse as X.509');
      }
      certificates.push(body);
    }
  }
  if (certificates.length === 0) throw invalid('the identity provider publishes no signing certificate (KeyDescriptor use="signing" with an X509Certificate)');
  if (certificates.length > MAX_CERTIFICATES)
    throw invalid(`the identity provider publishes ${certificates.length} signing certificates; a source holds at most ${MAX_CERTIFICATES}`);
  return { idpEntityId, ssoUrl, idpCertificates: certificates };
}

function elements(parent: Element, ns: string, localName: string): Element[] {
  return Array.from(parent.getElementsByTagNameNS(ns, localName));
}
