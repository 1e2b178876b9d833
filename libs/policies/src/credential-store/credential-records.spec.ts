import { snapshotCredential } from '@idm/test-kit';
import { CredentialRecords } from './credential-records';

describe('CredentialRecords', () => {
  it('gives back every field of a credential as it was put, the empty defaults included', () => {
    const records = new CredentialRecords();
    const full = snapshotCredential({
      id: 'c-full',
      projectId: 'p1',
      username: 'zoë',
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      enabled: false,
      expiresAt: '2030-01-01T00:00:00.000Z',
      apiKeys: [
        { id: 'k1', prefix: 'idm_aaaa', hash: 'a'.repeat(64), expiresAt: null },
        { id: 'k2', prefix: 'idm_bbbb', hash: 'b'.repeat(64), expiresAt: '2029-01-01T00:00:00.000Z' },
      ],
      roles: ['reader'],
      metadata: [{ key: 'team', value: 'enc:v1:x', secret: true, includeInJwt: false, includeInTokenResponse: true }],
      access: { acl: { rules: [] } },
      tokenSettings: { grants: ['client_credentials'] },
      digestHa1: 'enc:v1:ha1',
      truststore: ['-----BEGIN CERTIFICATE-----\n…'],
    });
    const bare = snapshotCredential({ id: 'c-bare' });
    for (const c of [full, bare]) expect(records.read(records.put(c))).toEqual(c);
    expect(records.size).toBe(2);
  });

  it('finds a credential by id, API-key hash, project + username and username; a non-ASCII name too', () => {
    const records = new CredentialRecords();
    const slot = records.put(snapshotCredential({ id: 'c1', projectId: 'p1', username: 'jürgen', apiKeys: [{ id: 'k', prefix: 'idm_x', hash: 'h1', expiresAt: null }] }));
    records.put(snapshotCredential({ id: 'c2', projectId: 'p2', username: 'jürgen' }));
    expect(records.slotOfId('c1')).toBe(slot);
    expect(records.slotOfApiKey('h1')).toBe(slot);
    expect(records.slotOfProjectUsername('p1', 'jürgen')).toBe(slot);
    expect(records.slotOfProjectUsername('p1', 'jurgen')).toBe(-1);
    expect(records.slotOfProjectUsername('p2', 'jürgen')).not.toBe(slot);
    expect(records.slotsOfUsername('jürgen')).toHaveLength(2);
    expect([records.slotOfId('c'), records.slotOfId('c10'), records.slotOfApiKey('h')]).toEqual([-1, -1, -1]);
  });

  it('hands a key hash or a name to the credential put last, and removal leaves what another took over', () => {
    const records = new CredentialRecords();
    const key = (hash: string) => [{ id: hash, prefix: 'idm_x', hash, expiresAt: null }];
    records.put(snapshotCredential({ id: 'c1', username: 'alice', apiKeys: key('h1') }));
    const c2 = records.put(snapshotCredential({ id: 'c2', username: 'alice', apiKeys: key('h1') }));
    expect(records.slotOfApiKey('h1')).toBe(c2);
    expect(records.slotOfProjectUsername('proj-a', 'alice')).toBe(c2);
    expect(records.delete('c1')).toBe(true);
    expect(records.slotOfApiKey('h1')).toBe(c2);
    expect(records.delete('c2')).toBe(true);
    expect(records.slotOfApiKey('h1')).toBe(-1);
    expect(records.delete('c2')).toBe(false);
    expect(records.size).toBe(0);
  });

  it('stays consistent with a map through many upserts and removals over small slabs (reuse and compaction)', () => {
    const records = new CredentialRecords(512);
    const model = new Map<string, ReturnType<typeof snapshotCredential>>();
    let seed = 7;
    const next = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    for (let step = 0; step < 4000; step++) {
      const id = `c${next(300)}`;
      if (next(3) === 0) {
        records.delete(id);
        model.delete(id);
      } else {
        const c = snapshotCredential({
          id,
          username: `u${id}`,
          roles: next(2) ? ['r'.repeat(next(40))] : [],
          apiKeys: [{ id: `k-${step}`, prefix: 'idm_x', hash: `h-${step}`, expiresAt: null }],
        });
        records.put(c);
        model.set(id, c);
      }
    }
    expect(records.size).toBe(model.size);
    const wrong = [...model.values()].filter((c) => {
      const slot = records.slotOfId(c.id);
      return slot < 0 || records.slotOfApiKey(c.apiKeys[0].hash) !== slot || !matches(records.read(slot), c);
    });
    expect(wrong).toEqual([]);
  });
});

/** Deep equality regardless of key order. */
const canonical = (value: unknown) =>
  JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));
const matches = (a: object, b: object) => canonical(a) === canonical(b);
