import { createHash } from 'node:crypto';
import { OAuthError, signJwtAsync, type JwtClaims, type SigningKeyRing } from '@idm/tokens';
import type { SigningAlgorithm } from '@idm/domain';

/** OIDC Core §3.1.3.6: the left half of the hash of the access token, with the hash of the ID token's `alg`. */
export function accessTokenHash(accessToken: string, algorithm: SigningAlgorithm): string {
  const bits = algorithm === 'EdDSA' ? 512 : Number(/(\d{3})$/.exec(algorithm)?.[1] ?? 256);
  const digest = createHash(`sha${bits}`).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export interface IdTokenRequest {
  issuer: string;
  subject: string;
  clientId: string;
  nonce: string | null;
  authTime: number;
  accessToken: string;
  lifetimeSeconds: number;
  algorithm: SigningAlgorithm | null;
  sessionId?: string;
}

/** Signs an ID token (`typ: JWT`, so no resource server takes it for an access token) with the environment's active key. */
export async function mintIdToken(ring: SigningKeyRing, request: IdTokenRequest, now: number): Promise<string> {
  const signer = ring.signer(now, request.algorithm ?? undefined, request.lifetimeSeconds);
  if (!signer) throw new OAuthError('server_error', 'the environment has no active signing key for ID tokens', 503);
  const iat = Math.floor(now / 1000);
  const claims: JwtClaims = {
    iss: request.issuer,
    sub: request.subject,
    aud: request.clientId,
    azp: request.clientId,
    iat,
    exp: iat + request.lifetimeSeconds,
    auth_time: request.authTime,
    at_hash: accessTokenHash(request.accessToken, signer.algorithm),
    amr: ['pwd'],
    ...(request.nonce !== null && { nonce: request.nonce }),
  };
  return signJwtAsync(claims, signer, { typ: 'JWT' });
}
