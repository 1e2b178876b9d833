import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { SamlSourceConfig } from '@idm/domain';
import { samlCertificatePem } from '@idm/identity-sources';
import { ProblemError } from '../problems/problem.error';

/**
 * A `saml` source's SP key (its sealed secret) and certificate, checked on save: the key signs our
 * AuthnRequests and decrypts EncryptedAssertions, the certificate is what our SP metadata tells the
 * IdP to encrypt to. A secret that is no RSA private key, or a certificate of another key, would
 * only show as every sign-in failing at the Gateway (saml_decryption_failed); here it is a 422.
 * Assertions required encrypted need the key.
 */
export function requireSamlSpKey(config: SamlSourceConfig, secret: string | null): void {
  if (secret === null) {
    if (config.requireEncryptedAssertions) throw refused('secret', 'config.requireEncryptedAssertions needs the SP private key (PEM) as the secret');
    return;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(secret);
  } catch {
    throw refused('secret', 'the secret of a saml source is the SP private key: a PEM private key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw refused('secret', `the SP key must be RSA (XML Encryption's key transport, rsa-sha256 signatures), not ${key.asymmetricKeyType}`);
  if (config.spCertificate === undefined) return;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(samlCertificatePem(config.spCertificate));
  } catch {
    throw refused('config.spCertificate', 'does not parse as an X.509 certificate');
  }
  if (!certificate.publicKey.equals(createPublicKey(key)))
    throw refused('config.spCertificate', 'is not the certificate of the SP key (the secret): the IdP would encrypt to a key the source does not hold');
}

const refused = (path: string, message: string) => new ProblemError(422, 'saml_sp_key_invalid', 'The SAML service provider key cannot be used', message, [{ path, message }]);
