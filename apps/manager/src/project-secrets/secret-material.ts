import { createPrivateKey, createPublicKey, createSecretKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { ProjectSecretKind } from '@idm/domain';
import type { StoredSecretVersion } from '@idm/config-bus';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { ProblemError } from '../problems/problem.error';

/** What a create or rotation supplies, before it is read. */
export interface SuppliedMaterial {
  material: string | Record<string, unknown>;
  privateKey?: string | Record<string, unknown>;
  kid?: string;
}

/** A version read from supplied material: the private JWK (or oct JWK) still in clear, to be sealed by the caller. */
export type ReadMaterial = Omit<StoredSecretVersion, 'version' | 'sealed' | 'createdAt' | 'retiresAt'> & { secretJwk: JsonWebKey | null };

const MIN_SHARED_SECRET_BYTES = 16;
const invalid = (path: string, message: string) => ProblemError.validation([{ path, message }]);

/**
 * Reads PEM or JWK material of one kind into what is stored: the public JWK and certificates in
 * clear, the private key or shared secret as a JWK for sealing. Anything that does not parse as
 * the kind says is refused with a field issue (never a 500).
 */
export async function readSecretMaterial(kind: ProjectSecretKind, supplied: SuppliedMaterial): Promise<ReadMaterial> {
  switch (kind) {
    case 'private-key': {
      const key = asPrivateKey(supplied.material, 'material');
      return withKid(supplied.kid, publicJwkOf(createPublicKey(key)), { certificates: [], x5tS256: null, secretJwk: key.export({ format: 'jwk' }) });
    }
    case 'public-key': {
      const key = asPublicKey(supplied.material, 'material');
      return withKid(supplied.kid, publicJwkOf(key), { certificates: [], x5tS256: null, secretJwk: null });
    }
    case 'certificate': {
      const chain = certificatesOf(supplied.material, 'material');
      const leaf = chain[0];
      const privateKey = supplied.privateKey === undefined ? null : asPrivateKey(supplied.privateKey, 'privateKey');
      if (privateKey && !leaf.checkPrivateKey(privateKey)) throw invalid('privateKey', "the private key does not belong to the certificate's public key");
      const x5tS256 = Buffer.from(leaf.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url');
      const jwk = { ...publicJwkOf(leaf.publicKey), x5c: chain.map((c) => c.raw.toString('base64')), 'x5t#S256': x5tS256 };
      return withKid(supplied.kid, jwk, { certificates: chain.map((c) => c.toString()), x5tS256, secretJwk: privateKey?.export({ format: 'jwk' }) ?? null });
    }
    case 'trust-store': {
      const cas = certificatesOf(supplied.material, 'material');
      if (cas.some((c) => !c.ca)) throw invalid('material', 'every certificate of a trust store must be a CA certificate (basicConstraints CA:TRUE)');
      return {
        kid: supplied.kid ?? cas[0].fingerprint256.replaceAll(':', '').toLowerCase(),
        publicJwk: null,
        certificates: cas.map((c) => c.toString()),
        x5tS256: null,
        secretJwk: null,
      };
    }
    case 'shared-secret': {
      const jwk = sharedSecretJwk(supplied.material);
      const kid = supplied.kid ?? (await calculateJwkThumbprint(jwk as JWK));
      return { kid, publicJwk: null, certificates: [], x5tS256: null, secretJwk: { ...jwk, kid } };
    }
  }
}

async function withKid(kid: string | undefined, publicJwk: JsonWebKey, rest: Omit<ReadMaterial, 'kid' | 'publicJwk'>): Promise<ReadMaterial> {
  const id = kid ?? (await calculateJwkThumbprint(publicJwk as JWK));
  return { kid: id, publicJwk: { ...publicJwk, kid: id }, ...rest, secretJwk: rest.secretJwk && { ...rest.secretJwk, kid: id } };
}

function publicJwkOf(key: KeyObject): JsonWebKey {
  return key.export({ format: 'jwk' });
}

function asPrivateKey(material: SuppliedMaterial['material'], path: string): KeyObject {
  try {
    const key = typeof material === 'string' ? createPrivateKey(material) : createPrivateKey({ key: material as JsonWebKey, format: 'jwk' });
    if (key.type !== 'private') throw new Error('not a private key');
    assertSupported(key, path);
    return key;
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw invalid(path, 'not a private key (PEM or JWK with its private part)');
  }
}

function asPublicKey(material: SuppliedMaterial['material'], path: string): KeyObject {
  try {
    if (typeof material !== 'string' && 'd' in material) throw invalid(path, 'a public key must not carry its private part; use kind private-key');
    const key = typeof material === 'string' ? createPublicKey(material) : createPublicKey({ key: material as JsonWebKey, format: 'jwk' });
    assertSupported(key, path);
    return key;
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw invalid(path, 'not a public key (PEM or JWK)');
  }
}

/** JOSE key types only: RSA (2048 bits or more), EC P-256/384/521, Ed25519/Ed448, X25519/X448. */
function assertSupported(key: KeyObject, path: string): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if ((type === 'rsa' || type === 'rsa-pss') && (details.modulusLength ?? 0) >= 2048) return;
  if (type === 'ec' && ['prime256v1', 'secp384r1', 'secp521r1'].includes(details.namedCurve ?? '')) return;
  if (type === 'ed25519' || type === 'ed448' || type === 'x25519' || type === 'x448') return;
  throw invalid(path, 'unsupported key: RSA of 2048 bits or more, EC P-256/P-384/P-521, Ed25519/Ed448 or X25519/X448');
}

function certificatesOf(material: SuppliedMaterial['material'], path: string): X509Certificate[] {
  if (typeof material !== 'string') throw invalid(path, 'PEM certificates expected');
  const blocks = material.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0 || blocks.length > 50) throw invalid(path, 'between 1 and 50 PEM certificates expected');
  try {
    return blocks.map((pem) => new X509Certificate(pem));
  } catch {
    throw invalid(path, 'a certificate cannot be read');
  }
}

function sharedSecretJwk(material: SuppliedMaterial['material']): JsonWebKey {
  let bytes: Buffer;
  if (typeof material === 'string') {
    if (!/^[A-Za-z0-9_-]+$/.test(material)) throw invalid('material', 'a shared secret is given as base64url (or an oct JWK)');
    bytes = Buffer.from(material, 'base64url');
  } else {
    if (material.kty !== 'oct' || typeof material.k !== 'string') throw invalid('material', 'an oct JWK with k expected');
    bytes = Buffer.from(material.k, 'base64url');
  }
  if (bytes.length < MIN_SHARED_SECRET_BYTES) throw invalid('material', `a shared secret needs at least ${MIN_SHARED_SECRET_BYTES} bytes`);
  return createSecretKey(bytes).export({ format: 'jwk' });
}
