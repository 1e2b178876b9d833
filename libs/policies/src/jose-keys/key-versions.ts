import type { SnapshotSecret } from '@idm/config-bus';
import { createPrivateKey, createPublicKey, createSecretKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { PolicyConfigError } from '../policy-config.error';

/** One usable version of a project secret, its keys imported once per revision. */
export interface KeyVersion {
  readonly kid: string;
  /** Epoch ms after which it is no longer used; Infinity for the current version. */
  readonly retiresAt: number;
  /** `x5t#S256` and `x5t` (SHA-1) of its certificate, base64url; null without one. */
  readonly x5tS256: string | null;
  readonly x5t: string | null;
  readonly certificates: readonly string[];
  /** Verify / encrypt with it (asymmetric keys). */
  readonly publicKey: KeyObject | null;
  /** Sign / decrypt with it: a private KeyObject, or the bytes of a shared secret. */
  readonly privateKey: KeyObject | Uint8Array | null;
}

/** The protected-header fields that pick a key. */
export interface KeyHints {
  kid?: string;
  'x5t#S256'?: string;
  x5t?: string;
}

const configError = (message: string) => new PolicyConfigError([{ path: [], message }]);

/**
 * Opens a published project secret: private and shared material comes sealed and is opened with
 * the Gateway's master keys here, at compile time, never per request. Versions already past
 * their overlap are left out; the rest are filtered again by time on every use.
 */
export function openKeyVersions(
  secretId: string,
  secrets: ReadonlyMap<string, SnapshotSecret> | undefined,
  box: { open(sealed: string): string } | null | undefined,
  now: number,
): KeyVersion[] {
  const secret = secrets?.get(secretId);
  if (!secret) throw configError(`project secret ${secretId} is not published with this proxy (deleted, or of another project)`);
  const versions = secret.versions.filter((v) => v.retiresAt === null || Date.parse(v.retiresAt) > now);
  if (versions.length === 0) throw configError(`project secret ${secretId} has no usable version`);
  return versions.map((v) => {
    let privateKey: KeyVersion['privateKey'] = null;
    if (v.sealed !== null) {
      if (!box) throw configError('this Gateway cannot open sealed secrets (no master keys)');
      const jwk = JSON.parse(box.open(v.sealed)) as JsonWebKey;
      privateKey = jwk.kty === 'oct' ? new Uint8Array(createSecretKey(Buffer.from(jwk.k!, 'base64url')).export()) : createPrivateKey({ key: jwk, format: 'jwk' });
    }
    const leaf = v.certificates.length > 0 && secret.kind === 'certificate' ? new X509Certificate(v.certificates[0]) : null;
    return {
      kid: v.kid,
      retiresAt: v.retiresAt === null ? Infinity : Date.parse(v.retiresAt),
      x5tS256: v.x5tS256,
      x5t: leaf ? Buffer.from(leaf.fingerprint.replaceAll(':', ''), 'hex').toString('base64url') : null,
      certificates: v.certificates,
      publicKey: v.publicJwk ? createPublicKey({ key: v.publicJwk as JsonWebKey, format: 'jwk' }) : null,
      privateKey,
    };
  });
}

/** Versions usable at `now` that match the header's key hints (every hint given must match). */
export function matchingVersions(versions: readonly KeyVersion[], hints: KeyHints, now: number): KeyVersion[] {
  return versions.filter(
    (v) =>
      v.retiresAt > now &&
      (hints.kid === undefined || hints.kid === v.kid) &&
      (hints['x5t#S256'] === undefined || hints['x5t#S256'] === v.x5tS256) &&
      (hints.x5t === undefined || hints.x5t === v.x5t),
  );
}

/** The version that signs and encrypts: the newest (the current one). */
export function currentVersion(versions: readonly KeyVersion[]): KeyVersion {
  return versions[versions.length - 1];
}
