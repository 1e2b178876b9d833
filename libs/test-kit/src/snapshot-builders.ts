import { SNAPSHOT_SCHEMA_VERSION, type ConfigSnapshot, type SnapshotCredential, type SnapshotProxy } from '@idm/config-bus';

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
    ...overrides,
  };
}
