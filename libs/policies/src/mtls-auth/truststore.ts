import { X509Certificate } from 'node:crypto';
import type { DirectoryCredential } from '../policy';

/** A parsed certificate with its validity period as epoch milliseconds (parsed once). */
export interface ParsedCertificate {
  readonly cert: X509Certificate;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** null: at least one entry of the truststore does not parse (the credential then fails closed). */
export type CompiledTruststore = readonly ParsedCertificate[] | null;

export function parseCertificate(input: string | Buffer): ParsedCertificate {
  const cert = new X509Certificate(input);
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  // An unreadable date must never widen validity: treat the certificate as never valid.
  return { cert, notBefore: Number.isNaN(notBefore) ? Infinity : notBefore, notAfter: Number.isNaN(notAfter) ? -Infinity : notAfter };
}

/**
 * Truststores compiled per credential object. `DirectoryCredential`s are built anew for every
 * snapshot revision and dropped with it, so each truststore is parsed once per revision (on the
 * first mTLS request that needs it), shared by every proxy and policy of that revision.
 */
const compiled = new WeakMap<DirectoryCredential, CompiledTruststore>();

export function truststoreOf(credential: DirectoryCredential): CompiledTruststore {
  let store = compiled.get(credential);
  if (store === undefined) {
    try {
      store = Object.freeze(credential.truststore.map((pem) => parseCertificate(pem)));
    } catch {
      store = null;
    }
    compiled.set(credential, store);
  }
  return store;
}

const MAX_DEPTH = 5;

/**
 * Whether `leaf` chains to one of `anchors`: each link is an issuer-name match
 * (`checkIssued`) plus a signature check with the issuer's public key; intermediates come from
 * what the client sent and must be CAs; every certificate on the path, anchor included, must be
 * valid at `now`. A truststore entry equal to a self-signed leaf pins it.
 */
export function chainsTo(leaf: ParsedCertificate, intermediates: readonly ParsedCertificate[], anchors: readonly ParsedCertificate[], now: number): boolean {
  if (!withinValidity(leaf, now)) return false;
  let current = leaf;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    for (const anchor of anchors) {
      if (issuedBy(current, anchor) && withinValidity(anchor, now)) return true;
    }
    const next = intermediates.find((i) => i !== current && i.cert.ca && withinValidity(i, now) && issuedBy(current, i));
    if (next === undefined) return false;
    current = next;
  }
  return false;
}

function issuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    return child.cert.checkIssued(issuer.cert) && child.cert.verify(issuer.cert.publicKey);
  } catch {
    return false;
  }
}

function withinValidity(c: ParsedCertificate, now: number): boolean {
  return c.notBefore <= now && now <= c.notAfter;
}
