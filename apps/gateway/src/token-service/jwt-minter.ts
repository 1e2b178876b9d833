import { randomUUID } from 'node:crypto';
import { ACCESS_TOKEN_TYPE, OAuthError, signJwtAsync, type JwtClaims, type SigningKeyRing, type SecretOpener, type TokenConfirmation } from '@idm/tokens';
import type { AuthenticatedClient, TokenClient } from '../serving/token-clients';
import { metadataFor } from './owner-metadata';

/** Registered and token-service claims that neither jwtClaims nor metadata may overwrite. */
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'scope', 'client_id', 'typ', 'proxy_id', 'cnf']);

export interface MintedJwt {
  token: string;
  /** Its `jti` and `exp` (epoch seconds): what a revocation needs. */
  jti: string;
  expiresAt: number;
}

export interface MintRequest {
  issuer: string;
  client: AuthenticatedClient;
  owner: TokenClient;
  scope: string;
  audience: string[];
  lifetimeSeconds: number;
  /** Sender constraint (RFC 9449 `jkt`, RFC 8705 `x5t#S256`); absent: a bearer token. */
  cnf?: TokenConfirmation;
}

/**
 * Builds and signs an access token JWT with the revision's current signing key. The claim set is
 * decided here only: registered claims, the client's `jwtClaims` choices taken from the owner
 * credential, and owner metadata flagged `includeInJwt` (secret values opened with the master key).
 */
export async function mintJwt(ring: SigningKeyRing, secrets: SecretOpener, request: MintRequest, now: number): Promise<MintedJwt> {
  const algorithm = request.client.settings.signingAlgorithm;
  const signer = ring.signer(now, algorithm ?? undefined, request.lifetimeSeconds);
  if (!signer && algorithm)
    throw new OAuthError(
      'server_error',
      `the client's token settings ask for ${algorithm}, and no activated signing key of this environment uses it and stays published for the token's lifetime`,
      500,
    );
  if (!signer) throw new OAuthError('server_error', 'the environment has no active signing key', 503);
  const iat = Math.floor(now / 1000);
  const { owner, client } = request;
  const claims: JwtClaims = {};
  for (const [key, value] of Object.entries(metadataFor(owner.credential, 'includeInJwt', secrets))) if (!RESERVED.has(key)) claims[key] = value;
  for (const source of client.settings.jwtClaims) {
    if (source === 'username') claims.username = owner.credential.username;
    else if (source === 'roles') claims.roles = owner.credential.roles;
    else if (source === 'credentialId') claims.credentialId = owner.credential.id;
    // email / fullName: credentials carry no such fields yet; nothing to copy.
  }
  const expiresAt = iat + request.lifetimeSeconds;
  const jti = randomUUID();
  Object.assign(claims, {
    iss: request.issuer,
    sub: owner.credential.id,
    aud: request.audience,
    iat,
    nbf: iat,
    exp: expiresAt,
    jti,
    client_id: client.credential.id,
    ...(client.proxyId !== undefined && { proxy_id: client.proxyId }),
    ...(request.scope !== '' && { scope: request.scope }),
    ...(request.cnf !== undefined && { cnf: request.cnf }),
  });
  return { token: await signJwtAsync(claims, signer, { typ: ACCESS_TOKEN_TYPE }), jti, expiresAt };
}
