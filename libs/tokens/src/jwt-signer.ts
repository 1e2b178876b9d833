import type { KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '@idm/domain';
import type { JwtClaims } from './jwt-claims';
import { jwsSign, jwsSignAsync } from './jws-algorithm';

export const ACCESS_TOKEN_TYPE = 'at+jwt';

/**
 * Compact JWS signing with node:crypto (about twice jose's rate for RSA on the token endpoint).
 * The header is built here from the key alone, so a caller cannot choose `alg` or `kid`.
 * The payload is signed as given: the token service decides iat/exp/jti.
 */
export interface JwtSigningKey {
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  readonly privateKey: KeyObject;
}

export interface SignJwtOptions {
  /** Header `typ`. Default 'at+jwt' (RFC 9068): this product signs access tokens only. */
  typ?: string;
}

export function signJwt(payload: JwtClaims, key: JwtSigningKey, options: SignJwtOptions = {}): string {
  const header = { alg: key.algorithm, kid: key.kid, typ: options.typ ?? ACCESS_TOKEN_TYPE };
  const signingInput = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  const signature = jwsSign(key.algorithm, Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** `signJwt` with the signature computed off the event loop (the token endpoint's path). */
export async function signJwtAsync(payload: JwtClaims, key: JwtSigningKey, options: SignJwtOptions = {}): Promise<string> {
  const header = { alg: key.algorithm, kid: key.kid, typ: options.typ ?? ACCESS_TOKEN_TYPE };
  const signingInput = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  const signature = await jwsSignAsync(key.algorithm, Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

function encodeSegment(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
