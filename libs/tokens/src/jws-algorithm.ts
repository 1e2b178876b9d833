import { constants, sign, verify, type KeyObject, type SignKeyObjectInput, type VerifyKeyObjectInput } from 'node:crypto';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '@idm/domain';

/**
 * The one table that turns a pinned JWS `alg` into node:crypto parameters, shared by the signer
 * and the verifier so both sides can never disagree (RFC 7518 §3). HMAC and `none` have no row:
 * a token naming them can never find a key to verify with.
 */
interface AlgorithmParams {
  /** Digest for crypto.sign/verify; null for EdDSA, where the curve fixes the hash. */
  hash: string | null;
  padding?: number;
  saltLength?: number;
  dsaEncoding?: 'ieee-p1363';
  keyType: 'rsa' | 'ec' | 'ed25519';
  /** Node's name of the curve an EC key must be on. */
  curve?: string;
}

const RSA = { keyType: 'rsa', padding: constants.RSA_PKCS1_PADDING } as const;
// RFC 7518 §3.5: PSS salt length equals the hash output length.
const PSS = { keyType: 'rsa', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } as const;
// JWS carries ECDSA signatures as raw r||s (RFC 7518 §3.4), not DER.
const ECDSA = { keyType: 'ec', dsaEncoding: 'ieee-p1363' } as const;

const PARAMS: Record<SigningAlgorithm, AlgorithmParams> = {
  RS256: { ...RSA, hash: 'sha256' },
  RS384: { ...RSA, hash: 'sha384' },
  RS512: { ...RSA, hash: 'sha512' },
  PS256: { ...PSS, hash: 'sha256' },
  PS384: { ...PSS, hash: 'sha384' },
  PS512: { ...PSS, hash: 'sha512' },
  ES256: { ...ECDSA, hash: 'sha256', curve: 'prime256v1' },
  ES384: { ...ECDSA, hash: 'sha384', curve: 'secp384r1' },
  ES512: { ...ECDSA, hash: 'sha512', curve: 'secp521r1' },
  EdDSA: { keyType: 'ed25519', hash: null },
};

const MIN_RSA_BITS = 2048;

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

/** Why `key` cannot be used with `algorithm`, or null when it fits. */
export function keyMismatch(key: KeyObject, algorithm: SigningAlgorithm): string | null {
  const params = PARAMS[algorithm];
  if (key.asymmetricKeyType !== params.keyType) return `${algorithm} needs an ${params.keyType} key, got ${key.asymmetricKeyType ?? 'a symmetric key'}`;
  if (params.curve && key.asymmetricKeyDetails?.namedCurve !== params.curve) return `${algorithm} needs an EC key on ${params.curve}`;
  if (params.keyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return `${algorithm} needs an RSA key of at least ${MIN_RSA_BITS} bits`;
  return null;
}

export function jwsSign(algorithm: SigningAlgorithm, data: Buffer, privateKey: KeyObject): Buffer {
  const { hash, padding, saltLength, dsaEncoding } = PARAMS[algorithm];
  const input: SignKeyObjectInput = { key: privateKey, padding, saltLength, dsaEncoding };
  return sign(hash, data, input);
}

/**
 * The same signature computed on the libuv thread pool (node:crypto's callback form), so an
 * RSA-heavy token endpoint uses every core while the event loop keeps serving HTTP.
 */
export function jwsSignAsync(algorithm: SigningAlgorithm, data: Buffer, privateKey: KeyObject): Promise<Buffer> {
  const { hash, padding, saltLength, dsaEncoding } = PARAMS[algorithm];
  const input: SignKeyObjectInput = { key: privateKey, padding, saltLength, dsaEncoding };
  return new Promise((resolve, reject) => sign(hash, data, input, (err, signature) => (err ? reject(err) : resolve(signature))));
}

/** False for any signature that does not verify, including ones node:crypto refuses to parse. */
export function jwsVerify(algorithm: SigningAlgorithm, data: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  const { hash, padding, saltLength, dsaEncoding } = PARAMS[algorithm];
  const input: VerifyKeyObjectInput = { key: publicKey, padding, saltLength, dsaEncoding };
  try {
    return verify(hash, data, input, signature);
  } catch {
    return false;
  }
}
