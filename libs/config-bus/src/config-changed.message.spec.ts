import { applyConfigChange, diffSnapshots } from './config-changed.message';
import {
  configSnapshotSchema,
  parseSnapshot,
  SNAPSHOT_SCHEMA_VERSION,
  UnsupportedSnapshotVersionError,
  type ConfigSnapshot,
  type SnapshotCredential,
  type SnapshotProxy,
} from './snapshot.schema';

const proxy = (id: string, upstreamUrl = 'http://u'): SnapshotProxy => ({
  id,
  projectId: 'p',
  name: id,
  basePath: `/${id}`,
  upstreamUrl,
  methods: ['GET'],
  policies: [],
  deployedAt: null,
});
const credential = (id: string, enabled = true): SnapshotCredential => ({
  id,
  projectId: 'p',
  username: id,
  passwordHash: null,
  enabled,
  expiresAt: null,
  apiKeys: [],
  roles: [],
  metadata: [],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
});
const snapshot = (revision: number, proxies = [proxy('a')], credentials = [credential('c1')]): ConfigSnapshot => ({
  schemaVersion: SNAPSHOT_SCHEMA_VERSION,
  environment: 'dev',
  epoch: 'e1',
  revision,
  generatedAt: new Date().toISOString(),
  proxies,
  credentials,
  signingKeys: [],
  keyManagers: [],
  identitySources: [],
});

describe('config delta', () => {
  it('is null when nothing a gateway sees changed (revision and timestamp do not count)', () => {
    expect(diffSnapshots(snapshot(1), { ...snapshot(7), generatedAt: 'later' })).toBeNull();
  });

  it('carries upserts and removals, and applying it reproduces the new snapshot', () => {
    const before = snapshot(3, [proxy('a'), proxy('b')], [credential('c1'), credential('c2')]);
    const after = snapshot(4, [proxy('a', 'http://changed'), proxy('n')], [credential('c1', false)]);
    const message = diffSnapshots(before, after)!;
    expect(message).toMatchObject({ revision: 4, previousRevision: 3 });
    expect(message.proxies.upserted.map((p) => p.id).sort()).toEqual(['a', 'n']);
    expect(message.proxies.removed).toEqual(['b']);
    expect(message.credentials).toEqual({ upserted: [credential('c1', false)], removed: ['c2'] });
    const applied = applyConfigChange(before, message);
    const byId = (s: ConfigSnapshot) => ({ p: [...s.proxies].sort((x, y) => x.id.localeCompare(y.id)), c: s.credentials });
    expect(applied.revision).toBe(4);
    expect(byId(applied)).toEqual(byId(after));
  });

  it('carries the signing key list only when it changed', () => {
    const key = { kid: 'k1', algorithm: 'RS256', publicJwk: {}, privateKey: 'enc:v1:x', activatesAt: 'now', publishedUntil: null };
    const message = diffSnapshots(snapshot(1), { ...snapshot(2), signingKeys: [key] })!;
    expect(message.signingKeys).toEqual([key]);
    expect(applyConfigChange(snapshot(1), message).signingKeys).toEqual([key]);
    expect(diffSnapshots(snapshot(1), snapshot(2))).toBeNull();
  });

  it('compares by value: a snapshot parsed back from Redis equals the one the Manager built (key order differs)', () => {
    // The Manager's builder writes fields in its own order; the schema returns them in the schema's.
    const built = {
      id: 'c1',
      projectId: 'p',
      username: 'u',
      passwordHash: null,
      enabled: true,
      expiresAt: null,
      roles: ['r'],
      metadata: [],
      access: { paths: ['/a'], methods: ['GET'] },
      tokenSettings: null,
      digestHa1: null,
      truststore: [],
      endUser: null,
      apiKeys: [{ id: 'k', prefix: 'x', hash: 'h', expiresAt: null }],
    };
    const current = snapshot(3, [{ ...proxy('a'), deployedAt: null, policies: [{ type: 'api-key', config: { b: 1, a: 2 } }] }], [built]);
    const stored = configSnapshotSchema.parse(JSON.parse(JSON.stringify(current)));
    stored.proxies[0].policies[0].config = { a: 2, b: 1 };
    expect(JSON.stringify(stored.credentials[0])).not.toBe(JSON.stringify(built)); // what used to count as a change
    expect(diffSnapshots(stored, { ...current, revision: 4 })).toBeNull();
    const changed = diffSnapshots(stored, { ...current, credentials: [{ ...built, enabled: false }] })!;
    expect(changed.credentials.upserted.map((c) => c.id)).toEqual(['c1']);
    expect(changed.proxies.upserted).toEqual([]);
  });

  it('is never null across a change of epoch, even with the same content', () => {
    const message = diffSnapshots(snapshot(5), { ...snapshot(2), epoch: 'e2' })!;
    expect(message).toMatchObject({ epoch: 'e2', revision: 2, previousRevision: 5 });
  });

  it('treats a missing previous snapshot as everything new from revision 0', () => {
    const message = diffSnapshots(null, snapshot(1))!;
    expect(message.previousRevision).toBe(0);
    expect(message.proxies.upserted).toHaveLength(1);
  });
});

describe('parseSnapshot', () => {
  it('refuses a schema version it does not know, by name', () => {
    expect(() => parseSnapshot(JSON.stringify({ ...snapshot(1), schemaVersion: SNAPSHOT_SCHEMA_VERSION + 1 }))).toThrow(UnsupportedSnapshotVersionError);
  });

  it('refuses a version 1 snapshot (no publication epoch)', () => {
    const { epoch: _, ...withoutEpoch } = snapshot(1);
    expect(() => parseSnapshot(JSON.stringify({ ...withoutEpoch, schemaVersion: 1 }))).toThrow(UnsupportedSnapshotVersionError);
  });

  it('rejects a corrupt snapshot', () => {
    expect(() => parseSnapshot(JSON.stringify({ schemaVersion: SNAPSHOT_SCHEMA_VERSION, environment: 'dev' }))).toThrow();
  });
});
