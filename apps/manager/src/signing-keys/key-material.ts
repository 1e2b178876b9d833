import type { SigningAlgorithm } from '@idm/domain';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ProblemError } from '../problems/problem.error';

const EC_CURVES: Partial<Record<SigningAlgorithm, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const JWK_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function generate(algorithm: SigningAlgorithm): KeyObject {
  if (algorithm === 'EdDSA') return generateKeyPairSync('ed25519').privateKey;
  const curve = EC_CURVES[algorithm];
  if (curve) return generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/** The key must suit the algorithm it is pinned to, so `alg` confusion cannot start here. */
function checkFits(key: KeyObject, algorithm: SigningAlgorithm): void {
  const fail = (why: string) => {
    throw ProblemError.validation([{ path: 'privateKeyPem', message: `${why} for ${algorithm}` }]);
  };
  const type = key.asymmetricKeyType;
  if (algorithm === 'EdDSA') return void (type !== 'ed25519' && fail('needs an Ed25519 key'));
  const curve = EC_CURVES[algorithm];
  if (curve) return void ((type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== curve) && fail(`needs an EC ${JWK_CURVES[curve]} key`));
  if (type !== 'rsa') fail('needs an RSA key');
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) fail('needs an RSA key of at least 2048 bits');
}

/** Generates or imports a private key; returns the PEM to seal and the public JWK to publish. */
export function signingKeyMaterial(algorithm: SigningAlgorithm, pem?: string): { privateKeyPem: string; publicJwk: Record<string, unknown>; kid: string } {
  let key: KeyObject;
  if (pem) {
    try {
      key = createPrivateKey(pem);
    } catch {
      throw ProblemError.validation([{ path: 'privateKeyPem', message: 'not a readable PEM private key' }]);
    }
  } else {
    key = generate(algorithm);
  }
  checkFits(key, algorithm);
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>;
  // RFC 7638 thumbprint as kid: stable, derived from the public key alone.
  const members = Object.keys(jwk)
    .filter((k) => ['crv', 'e', 'kty', 'n', 'x', 'y'].includes(k))
    .sort();
  const kid = createHash('sha256')
    .update(JSON.stringify(Object.fromEntries(members.map((k) => [k, jwk[k]]))))
    .digest('base64url');
  return { privateKeyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString(), publicJwk: { ...jwk, kid, alg: algorithm, use: 'sig' }, kid };
}
