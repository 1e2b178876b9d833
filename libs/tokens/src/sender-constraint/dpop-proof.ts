import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '@idm/domain';
import { decodeJsonObject, splitCompactJws } from '../compact-jws';
import { isSigningAlgorithm, jwsVerify, keyMismatch } from '../jws-algorithm';
import { jwkThumbprint } from './jwk-thumbprint';
import { normalizeHtu } from './htu';

/** Asymmetric algorithms only (RFC 9449 §4.2): `none` and the HS family can never prove a key. */
export const DPOP_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze(['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA']);
/** A proof carries one public key and a few claims; anything longer is refused before parsing. */
export const DPOP_PROOF_MAX_LENGTH = 8192;

export interface DpopProofExpectations {
  /** The request's method and URL (scheme, host, path; query and fragment are ignored). */
  method: string;
  url: string;
  /** At a resource server: the access token the proof must be bound to through `ath`. */
  accessToken?: string;
  algorithms: readonly SigningAlgorithm[];
  /** How old `iat` may be, and how far either way clocks may disagree. */
  maxAgeSeconds: number;
  clockSkewSeconds: number;
  /** Epoch milliseconds. */
  now: number;
}

/** Why a proof was refused; one word per RFC 9449 §4.3 check, for logs and tests (clients see `invalid_dpop_proof`). */
export type DpopProofFailure = 'malformed' | 'oversized' | 'typ' | 'alg' | 'jwk' | 'signature' | 'claims' | 'htm' | 'htu' | 'iat' | 'ath';

export type DpopProofResult =
  | { ok: true; /** RFC 7638 thumbprint of the proof's key: `cnf.jkt`. */ jkt: string; jti: string; iat: number; nonce: string | undefined }
  | { ok: false; failure: DpopProofFailure };

const MAX_JTI_LENGTH = 256;
const MAX_NONCE_LENGTH = 256;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * Verifies a DPoP proof JWT (RFC 9449 §4.3, steps 2-12 except nonce and jti reuse, which need
 * shared state: see DpopNonces and DpopReplayCache). The signature is checked with node:crypto
 * against the key the proof carries, with the algorithm pinned to that key's type, so `none`,
 * HS256 and a key of the wrong type fail before any payload is trusted.
 */
export function verifyDpopProof(proof: string, expected: DpopProofExpectations): DpopProofResult {
  if (proof.length > DPOP_PROOF_MAX_LENGTH) return fail('oversized');
  const jws = splitCompactJws(proof, DPOP_PROOF_MAX_LENGTH);
  if (jws === null) return fail('malformed');
  const { header } = jws;
  if (header.typ !== 'dpop+jwt') return fail('typ');
  const alg = header.alg;
  if (!isSigningAlgorithm(alg) || !expected.algorithms.includes(alg)) return fail('alg');
  const key = publicKeyOf(header.jwk);
  if (key === null || keyMismatch(key.object, alg) !== null) return fail('jwk');
  if (!jwsVerify(alg, Buffer.from(jws.signingInput), jws.signature, key.object)) return fail('signature');
  const claims = decodeJsonObject(jws.payloadSegment);
  if (claims === null) return fail('malformed');
  const { jti, htm, htu, iat, ath, nonce } = claims;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) return fail('claims');
  if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length > MAX_NONCE_LENGTH)) return fail('claims');
  if (htm !== expected.method) return fail('htm');
  const presentedUrl = normalizeHtu(htu);
  if (presentedUrl === null || presentedUrl !== normalizeHtu(expected.url)) return fail('htu');
  const nowSeconds = expected.now / 1000;
  if (typeof iat !== 'number' || !Number.isFinite(iat) || iat > nowSeconds + expected.clockSkewSeconds || iat < nowSeconds - expected.maxAgeSeconds - expected.clockSkewSeconds)
    return fail('iat');
  if (expected.accessToken !== undefined && ath !== accessTokenHash(expected.accessToken)) return fail('ath');
  return { ok: true, jkt: key.thumbprint, jti, iat, nonce: nonce as string | undefined };
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII bytes. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * The proof's public key, imported once per distinct JWK: clients sign every request with the
 * same key, so the import and the thumbprint are cached (bounded; the oldest entries go first).
 */
function publicKeyOf(jwk: unknown): { object: KeyObject; thumbprint: string } | null {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return null;
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => m in members)) return null;
  const thumbprint = jwkThumbprint(members);
  if (thumbprint === null) return null;
  const cached = importedKeys.get(thumbprint);
  if (cached !== undefined) return cached;
  let object: KeyObject;
  try {
    object = createPublicKey({ key: members as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    return null;
  }
  if (importedKeys.size >= MAX_CACHED_KEYS) importedKeys.delete(importedKeys.keys().next().value!);
  const entry = Object.freeze({ object, thumbprint });
  importedKeys.set(thumbprint, entry);
  return entry;
}

const MAX_CACHED_KEYS = 10_000;
/** By thumbprint: the thumbprint covers every member the import reads, so equal thumbprints are the same key. */
const importedKeys = new Map<string, { object: KeyObject; thumbprint: string }>();

function fail(failure: DpopProofFailure): DpopProofResult {
  return { ok: false, failure };
}
