import { createHash, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { SnapshotSigningKey } from '@idm/config-bus';
import { SecretBox, SIGNING_ALGORITHMS, type SigningAlgorithm } from '@idm/domain';

/** Test keys built the way the Manager builds them (kid = RFC 7638 thumbprint, sealed PKCS#8 PEM). */
export const ALGORITHMS = SIGNING_ALGORITHMS;
const TEST_MASTER_KEY = { id: 'test', key: randomBytes(32) };
export const box = new SecretBox([TEST_MASTER_KEY]);
/** `IDM_MASTER_KEYS` for a Gateway that must open what `box` sealed. */
export const TEST_MASTER_KEYS = `${TEST_MASTER_KEY.id}:${TEST_MASTER_KEY.key.toString('base64')}`;

const CURVES: Partial<Record<SigningAlgorithm, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const generated = new Map<string, KeyObject>();

export function privateKeyFor(algorithm: SigningAlgorithm, variant = 0): KeyObject {
  const id = `${algorithm}/${variant}`;
  if (!generated.has(id)) {
    const curve = CURVES[algorithm];
    const pair =
      algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : curve ? generateKeyPairSync('ec', { namedCurve: curve }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    generated.set(id, pair.privateKey);
  }
  return generated.get(id)!;
}

export function publicJwkOf(key: KeyObject): Record<string, unknown> {
  return createPublicKey(key).export({ format: 'jwk' });
}

export function thumbprint(jwk: Record<string, unknown>): string {
  const members = Object.keys(jwk)
    .filter((k) => ['crv', 'e', 'kty', 'n', 'x', 'y'].includes(k))
    .sort();
  return createHash('sha256')
    .update(JSON.stringify(Object.fromEntries(members.map((k) => [k, jwk[k]]))))
    .digest('base64url');
}

export function snapshotKey(algorithm: SigningAlgorithm, overrides: Partial<SnapshotSigningKey> & { variant?: number } = {}): SnapshotSigningKey {
  const { variant, ...rest } = overrides;
  const key = privateKeyFor(algorithm, variant);
  const jwk = publicJwkOf(key);
  const kid = thumbprint(jwk);
  return {
    kid,
    algorithm,
    publicJwk: { ...jwk, kid, alg: algorithm, use: 'sig' },
    privateKey: box.seal(key.export({ format: 'pem', type: 'pkcs8' }).toString()),
    activatesAt: new Date(Date.UTC(2024, 0, 1)).toISOString(),
    publishedUntil: null,
    ...rest,
  };
}
