import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { SnapshotSigningKey } from '@idm/config-bus';
import type { SecretBox, SigningAlgorithm } from '@idm/domain';
import { isSigningAlgorithm, keyMismatch } from './jws-algorithm';

/**
 * The signing keys of one environment at one config revision, imported once into KeyObjects so
 * the request path never parses PEM or JWK. A key that cannot be opened or imported is left out
 * and named in `problems` (for a loud log at config apply time) instead of throwing later on a
 * request. Published JWKs are derived from the private key itself, so a snapshot can never make
 * us publish a key we do not sign with, nor private members by mistake.
 */
export interface RingKey {
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: Readonly<PublicJwk>;
  /** Epoch milliseconds. */
  readonly activatesAt: number;
  /** Epoch milliseconds; null while the key is not being retired. */
  readonly publishedUntil: number | null;
}

export interface PublicJwk {
  kty: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
  [member: string]: unknown;
}

export interface VerificationKey {
  readonly key: KeyObject;
  readonly algorithm: SigningAlgorithm;
}

export interface KeyRingProblem {
  kid: string;
  reason: 'unsupported_algorithm' | 'invalid_dates' | 'sealed_key_unreadable' | 'key_unusable' | 'public_key_mismatch' | 'duplicate_kid';
  detail: string;
}

/** Only what the ring needs from SecretBox; keeps tests and callers free to pass a narrower object. */
export type SecretOpener = Pick<SecretBox, 'open'>;

export class SigningKeyRing {
  private readonly byKid: ReadonlyMap<string, { ringKey: RingKey; verification: VerificationKey }>;
  /** Newest activation first, so `signer` stops at the first usable key. */
  private readonly newestFirst: readonly RingKey[];

  private constructor(keys: RingKey[]) {
    this.byKid = new Map(keys.map((k) => [k.kid, { ringKey: k, verification: Object.freeze({ key: k.publicKey, algorithm: k.algorithm }) }]));
    this.newestFirst = [...keys].sort((a, b) => b.activatesAt - a.activatesAt || (a.kid < b.kid ? -1 : 1));
  }

  static fromSnapshot(keys: readonly SnapshotSigningKey[], box: SecretOpener): { ring: SigningKeyRing; problems: KeyRingProblem[] } {
    const imported: RingKey[] = [];
    const problems: KeyRingProblem[] = [];
    for (const entry of keys) {
      const result = importKey(entry, box);
      if ('reason' in result) problems.push(result);
      else if (imported.some((k) => k.kid === result.kid)) problems.push({ kid: entry.kid, reason: 'duplicate_kid', detail: 'a key with this kid is already in the ring' });
      else imported.push(result);
    }
    return { ring: new SigningKeyRing(imported), problems };
  }

  static empty(): SigningKeyRing {
    return new SigningKeyRing([]);
  }

  /**
   * The newest key that has activated and is still published (with `algorithm`: the newest such
   * key of that algorithm, for clients whose token settings pin one); undefined when there is none.
   * A key being retired signs only tokens of `lifetimeSeconds` that expire before it stops being
   * published: a token must never outlive the key that verifies it (a client pinned to the old
   * algorithm would otherwise get tokens the next JWKS cuts off).
   */
  signer(now: number = Date.now(), algorithm?: SigningAlgorithm, lifetimeSeconds = 0): RingKey | undefined {
    const expiresAt = now + lifetimeSeconds * 1000;
    return this.newestFirst.find(
      (k) => k.activatesAt <= now && isPublished(k, now) && (k.publishedUntil === null || k.publishedUntil >= expiresAt) && (algorithm === undefined || k.algorithm === algorithm),
    );
  }

  /** JWKS document: every key still published, including keys that activate later (pre-publication). */
  jwks(now: number = Date.now()): { keys: Readonly<PublicJwk>[] } {
    return { keys: this.newestFirst.filter((k) => isPublished(k, now)).map((k) => k.publicJwk) };
  }

  /** The pinned key and algorithm for `kid`, or undefined for a kid unknown or no longer published. */
  verificationKey(kid: string, now: number = Date.now()): VerificationKey | undefined {
    const entry = this.byKid.get(kid);
    return entry && isPublished(entry.ringKey, now) ? entry.verification : undefined;
  }
}

function isPublished(key: RingKey, now: number): boolean {
  return key.publishedUntil === null || key.publishedUntil > now;
}

function importKey(entry: SnapshotSigningKey, box: SecretOpener): RingKey | KeyRingProblem {
  const problem = (reason: KeyRingProblem['reason'], detail: string): KeyRingProblem => ({ kid: entry.kid, reason, detail });
  const { kid, algorithm } = entry;
  if (!isSigningAlgorithm(algorithm)) return problem('unsupported_algorithm', `algorithm '${String(algorithm)}' cannot sign tokens`);
  const activatesAt = Date.parse(entry.activatesAt);
  const publishedUntil = entry.publishedUntil === null ? null : Date.parse(entry.publishedUntil);
  if (Number.isNaN(activatesAt) || Number.isNaN(publishedUntil)) return problem('invalid_dates', 'activatesAt or publishedUntil is not a date');

  let pem: string;
  try {
    pem = box.open(entry.privateKey);
  } catch {
    // The reason from SecretBox may name a master key id; that is safe, but the sealed text is not logged.
    return problem('sealed_key_unreadable', 'the private key cannot be opened with the configured master keys');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    return problem('key_unusable', 'the opened private key is not a readable PEM key');
  }
  const mismatch = keyMismatch(privateKey, algorithm);
  if (mismatch) return problem('key_unusable', mismatch);

  const publicKey = createPublicKey(privateKey);
  const derived = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  if (!sameKeyMaterial(derived, entry.publicJwk)) return problem('public_key_mismatch', 'publicJwk does not belong to the private key');
  const publicJwk = Object.freeze({ ...derived, kid, alg: algorithm, use: 'sig' } as PublicJwk);
  return Object.freeze({ kid, algorithm, privateKey, publicKey, publicJwk, activatesAt, publishedUntil });
}

/** Compares the RFC 7638 required members, i.e. the ones that define the key. */
function sameKeyMaterial(derived: Record<string, unknown>, published: Record<string, unknown>): boolean {
  return ['kty', 'crv', 'n', 'e', 'x', 'y'].every((m) => derived[m] === published[m]);
}
