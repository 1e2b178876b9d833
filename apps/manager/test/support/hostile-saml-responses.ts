import { randomBytes } from 'node:crypto';
import type { TestCertificate } from '@idm/test-kit';
import type { AuthnRequest, ResponseOptions, TestSamlIdp } from './saml-idp';

/** A Response for the started login, as the IdP would sign it unless `changes` say otherwise. */
export const responseTo = (request: AuthnRequest, login: string, changes: Partial<ResponseOptions> = {}): ResponseOptions => ({
  login,
  inResponseTo: request.id,
  acsUrl: request.acsUrl,
  audience: request.issuer,
  ...changes,
});

/** A hostile case: what it is, the answer's status and reason code, and the form posted to the ACS for a started login. */
export type HostileSamlCase = [what: string, status: number, code: string, post: (request: AuthnRequest) => Record<string, string>];

/** The reason codes that differ between the ACS of end users (Gateway) and of operators (Manager). */
export interface HostileSamlCodes {
  unsolicited: string;
  unknownRelayState: string;
  missingResponse: string;
}

/**
 * What every SAML ACS of ours must refuse, mallory as the subject: forged or misdirected
 * assertions, replays without our login, XML attacks, a missing required attribute. `peers` is
 * read when a case runs (the IdP and the stranger's key are made in `beforeAll`, after `it.each`
 * reads its table). Assertions are required signed; `out-mallory` lacks the attribute `verified`.
 */
export function hostileSamlCases(peers: () => { idp: TestSamlIdp; stranger: TestCertificate }, codes: HostileSamlCodes): HostileSamlCase[] {
  const idp = () => peers().idp;
  const hostile = (r: AuthnRequest, changes: Partial<ResponseOptions> = {}) => ({ SAMLResponse: idp().response(responseTo(r, 'mallory', changes)), RelayState: r.relayState });
  return [
    [
      'an unsigned assertion',
      401,
      'saml_signature_invalid',
      (r) => ({
        SAMLResponse: idp().response(
          responseTo(r, 'mallory'),
          idp()
            .assertion(responseTo(r, 'mallory'))
            .replace(/<Signature[\s\S]*<\/Signature>/, ''),
        ),
        RelayState: r.relayState,
      }),
    ],
    ['an assertion signed by another key', 401, 'saml_signature_invalid', (r) => hostile(r, { signer: peers().stranger })],
    [
      'signature wrapping: an unsigned assertion for mallory next to the signed one for alice',
      401,
      'saml_signature_invalid',
      (r) => {
        const signed = idp().assertion(responseTo(r, 'alice'));
        const forged = signed
          .replace(/<Signature[\s\S]*<\/Signature>/, '')
          .replace(/ID="[^"]+"/, 'ID="_evil"')
          .replace(/>alice</, '>mallory<');
        return { SAMLResponse: idp().response(responseTo(r, 'mallory'), forged + signed), RelayState: r.relayState };
      },
    ],
    ['an expired assertion (NotOnOrAfter passed)', 401, 'saml_response_expired', (r) => hostile(r, { lifetimeSeconds: -600 })],
    // The other plane's SP, say: each ACS checks its own entity id.
    ['an assertion for another Audience', 401, 'saml_audience_mismatch', (r) => hostile(r, { audience: 'https://other-sp.example/metadata' })],
    ['a Response to another Destination', 401, 'saml_destination_mismatch', (r) => hostile(r, { destination: 'https://other-sp.example/acs' })],
    ['an assertion for another Recipient', 401, 'saml_destination_mismatch', (r) => hostile(r, { recipient: 'https://other-sp.example/acs' })],
    ['an unknown InResponseTo', 401, 'saml_in_response_to_invalid', (r) => hostile(r, { inResponseTo: `_${randomBytes(20).toString('hex')}` })],
    ['no InResponseTo (unsolicited) with a live RelayState', 401, 'saml_in_response_to_invalid', (r) => hostile(r, { inResponseTo: null })],
    ['IdP-initiated (no RelayState)', 400, codes.unsolicited, (r) => ({ SAMLResponse: hostile(r, { inResponseTo: null }).SAMLResponse })],
    ['a RelayState we never issued', 400, codes.unknownRelayState, (r) => ({ ...hostile(r), RelayState: randomBytes(32).toString('base64url') })],
    [
      'a DTD with an external entity (XXE)',
      400,
      'saml_xml_refused',
      (r) => {
        const xml = Buffer.from(hostile(r).SAMLResponse, 'base64').toString('utf8');
        const evil = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${xml.replace('<saml:Issuer>', '<saml:Issuer>&x;')}`;
        return { SAMLResponse: Buffer.from(evil).toString('base64'), RelayState: r.relayState };
      },
    ],
    [
      'an account without the required attribute (verified)',
      403,
      'idp_claims_refused',
      (r) => ({ SAMLResponse: idp().response(responseTo(r, 'out-mallory')), RelayState: r.relayState }),
    ],
    ['no SAMLResponse at all', 400, codes.missingResponse, (r) => ({ RelayState: r.relayState })],
  ];
}
