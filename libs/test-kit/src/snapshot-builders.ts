import { SNAPSHOT_SCHEMA_VERSION, type ConfigSnapshot, type SnapshotCredential, type SnapshotKeyManager, type SnapshotProxy, type SnapshotSecret } from '@idm/config-bus';
import { box } from './signing-keys';

/**
 * Factories for the config snapshot a Manager publishes (Immich's test factories): a spec names
 * only what it is about and gets every other field valid and current, so a new snapshot field
 * means one edit here instead of one per spec.
 */
export function snapshotProxy(overrides: Partial<SnapshotProxy> & { id: string }): SnapshotProxy {
  return {
    projectId: 'proj-a',
    name: overrides.id,
    basePath: `/${overrides.id}`,
    upstreamUrl: 'http://127.0.0.1:9',
    methods: ['GET', 'HEAD', 'POST', 'PUT'],
    policies: [],
    deployedAt: null,
    ...overrides,
  };
}

export function snapshotCredential(overrides: Partial<SnapshotCredential> & { id: string }): SnapshotCredential {
  return {
    projectId: 'proj-a',
    username: overrides.id,
    passwordHash: null,
    enabled: true,
    expiresAt: null,
    apiKeys: [],
    roles: [],
    metadata: [],
    access: {},
    tokenSettings: null,
    digestHa1: null,
    truststore: [],
    endUser: null,
    ...overrides,
  };
}

/** An end user's profile on a snapshot credential (`snapshotCredential({ endUser: snapshotEndUser({ locked: true }) })`). */
export function snapshotEndUser(overrides: Partial<NonNullable<SnapshotCredential['endUser']>> = {}): NonNullable<SnapshotCredential['endUser']> {
  return {
    email: 'user@example.org',
    emailVerified: true,
    name: null,
    givenName: null,
    familyName: null,
    locale: null,
    pictureUrl: null,
    attributes: {},
    locked: false,
    identitySourceId: null,
    ...overrides,
  };
}

export function configSnapshot(overrides: Partial<ConfigSnapshot> = {}): ConfigSnapshot {
  return {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    environment: 'test',
    epoch: 'test-epoch',
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [],
    credentials: [],
    signingKeys: [],
    keyManagers: [],
    identitySources: [],
    ...overrides,
  };
}

/** An external key manager (trusted issuer) as published; secrets must already be sealed. */
export function snapshotKeyManager(overrides: Partial<SnapshotKeyManager> & { id: string; issuer: string | null }): SnapshotKeyManager {
  return {
    name: overrides.id,
    type: 'external',
    projectId: null,
    discoveryUrl: null,
    jwksUri: null,
    introspectionEndpoint: null,
    clientId: null,
    clientSecret: null,
    sharedSecret: null,
    algorithms: ['RS256'],
    audiences: [],
    clockSkewSeconds: 30,
    requiredClaims: [],
    claimMappings: { userId: 'sub', username: 'sub', roles: 'roles', scopes: 'scope', headers: {} },
    tokenTypes: 'jwt',
    tls: { caPem: null, clientCertificatePem: null, clientKey: null },
    enabled: true,
    ...overrides,
  };
}

/** One version of a published project secret, built from JWKs; private/shared material sealed with the test master key. */
export interface SecretVersionSpec {
  kid: string;
  /** Private JWK or `oct` JWK: sealed as the Manager stores it. */
  secretJwk?: Record<string, unknown>;
  publicJwk?: Record<string, unknown> | null;
  certificates?: string[];
  x5tS256?: string | null;
  retiresAt?: string | null;
}

/** A project secret as published with a proxy (`SnapshotProxy.secrets`), versions oldest first. */
export function snapshotSecret(id: string, kind: string, versions: SecretVersionSpec[]): SnapshotSecret {
  return {
    id,
    kind,
    versions: versions.map((v, i) => ({
      version: i + 1,
      kid: v.kid,
      publicJwk: v.publicJwk === undefined ? publicPartOf(v.secretJwk) : v.publicJwk,
      certificates: v.certificates ?? [],
      x5tS256: v.x5tS256 ?? null,
      sealed: v.secretJwk ? box.seal(JSON.stringify(v.secretJwk)) : null,
      createdAt: new Date(0).toISOString(),
      retiresAt: v.retiresAt ?? null,
    })),
  };
}

function publicPartOf(jwk: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!jwk || jwk.kty === 'oct') return null;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}
