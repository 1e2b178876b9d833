import { X509Certificate, type KeyObject } from 'node:crypto';
import { importJWK, type CompactJWEHeaderParameters, type CryptoKey, type JWK, type JWSHeaderParameters } from 'jose';
import type { PolicyCompileDeps } from '../compile-dependencies';
import { PolicyConfigError } from '../policy-config.error';
import { currentVersion, matchingVersions, openKeyVersions, type KeyVersion } from './key-versions';
import { fetchJwksWithUndici, RemoteKeySet, type JwksTls } from './remote-jwks';
import type { KeySourceConfig } from './schema';
import { trustedX5cKey } from './x5c-chain';

export type JoseKey = KeyObject | Uint8Array | CryptoKey;

/** Why no key could be chosen; mapped to a reason code by the policy. */
export class NoMatchingKey extends Error {
  readonly code = 'ERR_JWKS_NO_MATCHING_KEY';
}
export class UntrustedCertificate extends Error {
  readonly code = 'IDM_X5C_UNTRUSTED';
}

const configError = (message: string) => new PolicyConfigError([{ path: [], message }]);

/** Opened once per compile of the proxy: a project secret's usable versions. */
export function versionsOf(secretId: string, deps: PolicyCompileDeps): KeyVersion[] {
  return openKeyVersions(secretId, deps.projectSecrets, deps.secrets, deps.now());
}

/** The key a policy signs with: the current version of a project secret, private part required. */
export function signingKeyOf(config: KeySourceConfig, deps: PolicyCompileDeps): { key: JoseKey; kid: string; x5tS256: string | null } {
  if (config.source !== 'secret') throw configError('signing needs a project secret with a private key (a JWKS holds public keys only)');
  const current = currentVersion(versionsOf(config.secretId, deps));
  if (current.privateKey === null) throw configError(`project secret ${config.secretId} holds no private key or shared secret to sign with`);
  return { key: current.privateKey, kid: current.kid, x5tS256: current.x5tS256 };
}

/** Keys that may have produced a JWS, for its protected header; tried in order. */
export type VerificationKeys = (header: JWSHeaderParameters) => Promise<JoseKey[]>;

export function verificationKeysOf(config: KeySourceConfig | { source: 'x5c'; trustStoreSecretId: string }, deps: PolicyCompileDeps): VerificationKeys {
  switch (config.source) {
    case 'secret': {
      const versions = versionsOf(config.secretId, deps);
      return (header) => {
        const found = matchingVersions(versions, header, deps.now()).map((v) => v.publicKey ?? v.privateKey!);
        return found.length > 0 ? Promise.resolve(found) : Promise.reject(new NoMatchingKey('no usable key matches the header'));
      };
    }
    case 'x5c': {
      const trustStore = versionsOf(config.trustStoreSecretId, deps).flatMap((v) => v.certificates.map((pem) => new X509Certificate(pem)));
      if (trustStore.length === 0) throw configError(`project secret ${config.trustStoreSecretId} holds no CA certificates`);
      return (header) => {
        const key = trustedX5cKey(header.x5c, trustStore, deps.now());
        return key ? Promise.resolve([key]) : Promise.reject(new UntrustedCertificate('x5c does not chain to the trust store'));
      };
    }
    case 'jwks': {
      const remote = remoteKeySetOf(config, deps);
      return async (header) => {
        const select = async () => (await remote.current()).verifyKey(header, { payload: '', signature: '' } as never);
        try {
          return [await select()];
        } catch (err) {
          // An unknown kid may be a key the partner just added: one refetch per interval, then fail closed.
          if ((err as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY' && (await remote.refreshForUnknownKid())) return [await select()];
          throw err;
        }
      };
    }
  }
}

/** The key a policy encrypts to, for the JWE's `alg`: a project secret's current version, or a partner's JWKS. */
export type EncryptionKey = () => Promise<{ key: JoseKey; kid: string | undefined }>;

export function encryptionKeyOf(config: KeySourceConfig, alg: string, deps: PolicyCompileDeps): EncryptionKey {
  const symmetric = alg === 'dir' || /^A\d+KW$/.test(alg);
  if (config.source === 'secret') {
    const current = currentVersion(versionsOf(config.secretId, deps));
    const key = symmetric ? (current.privateKey instanceof Uint8Array ? current.privateKey : null) : current.publicKey;
    if (key === null) throw configError(`project secret ${config.secretId} has no ${symmetric ? 'shared secret' : 'public key'} for ${alg}`);
    return () => Promise.resolve({ key, kid: current.kid });
  }
  if (symmetric) throw configError(`${alg} needs a shared secret (a project secret), not a JWKS`);
  const remote = remoteKeySetOf(config, deps);
  const kty = alg.startsWith('RSA') ? ['RSA'] : ['EC', 'OKP'];
  return async () => {
    const jwk = (await remote.current()).set.keys.find((k) => kty.includes(k.kty!) && k.use !== 'sig' && (k.alg === undefined || k.alg === alg));
    if (!jwk) throw new NoMatchingKey(`the partner JWKS has no ${alg} encryption key`);
    return { key: (await importJWK(jwk as JWK, alg)) as CryptoKey, kid: jwk.kid };
  };
}

/** Keys that may decrypt a JWE (private keys or shared secrets of a project secret's usable versions). */
export type DecryptionKeys = (header: CompactJWEHeaderParameters) => JoseKey[];

export function decryptionKeysOf(config: KeySourceConfig, deps: PolicyCompileDeps): DecryptionKeys {
  if (config.source !== 'secret') throw configError('decryption needs a project secret with a private key or shared secret');
  const versions = versionsOf(config.secretId, deps);
  if (versions.every((v) => v.privateKey === null)) throw configError(`project secret ${config.secretId} holds no private key or shared secret to decrypt with`);
  return (header) => matchingVersions(versions, header, deps.now()).flatMap((v) => (v.privateKey === null ? [] : [v.privateKey]));
}

function remoteKeySetOf(config: Extract<KeySourceConfig, { source: 'jwks' }>, deps: PolicyCompileDeps): RemoteKeySet {
  const tls: JwksTls = {};
  if (config.clientCertificateSecretId) {
    const current = currentVersion(versionsOf(config.clientCertificateSecretId, deps));
    if (current.certificates.length === 0 || !(current.privateKey && !(current.privateKey instanceof Uint8Array))) {
      throw configError(`project secret ${config.clientCertificateSecretId} is not a certificate with its private key (mTLS)`);
    }
    tls.cert = current.certificates.join('\n');
    tls.key = current.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  }
  if (config.trustStoreSecretId) tls.ca = versionsOf(config.trustStoreSecretId, deps).flatMap((v) => v.certificates);
  return new RemoteKeySet(config, tls, deps.fetchJwks ?? fetchJwksWithUndici, deps.now);
}
