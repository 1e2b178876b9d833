import type { SnapshotCredential } from '@idm/config-bus';
import { snapshotCredential, snapshotEndUser } from '@idm/test-kit';
import { CredentialDirectory } from './credential-directory';

const credential = (id: string, username: string, keyHashes: string[], projectId = 'proj'): SnapshotCredential =>
  snapshotCredential({ id, projectId, username, apiKeys: keyHashes.map((hash, i) => ({ id: `${id}-k${i}`, prefix: 'idm_x', hash, expiresAt: null })) });

describe('CredentialDirectory: one credential at a time', () => {
  it('upsert replaces only that credential: its key hashes, name and id; the other entries are the same objects', () => {
    const directory = new CredentialDirectory([credential('c1', 'alice', ['h1', 'h2']), credential('c2', 'bob', ['h3'])]);
    const bob = directory.findById('c2');
    const aliceBefore = directory.findById('c1');

    directory.upsert({ ...credential('c1', 'alicia', ['h2', 'h4']), enabled: false });

    expect(directory.findById('c2')).toBe(bob);
    expect(directory.findApiKey('h3')!.credential).toBe(bob);
    expect(directory.findApiKey('h1')).toBeUndefined(); // the removed key no longer authenticates
    expect(directory.findApiKey('h4')!.credential).toMatchObject({ id: 'c1', enabled: false });
    expect(directory.findCredential('proj', 'alice')).toBeUndefined();
    expect(directory.findCredential('proj', 'alicia')).toBe(directory.findById('c1'));
    expect(aliceBefore).toMatchObject({ username: 'alice', enabled: true }); // a holder keeps its version
    expect(directory.size).toBe(2);
  });

  it('remove drops every index entry of the credential, but not entries another credential took over', () => {
    const directory = new CredentialDirectory([credential('c1', 'alice', ['h1'])]);
    directory.upsert(credential('c2', 'alice', ['h1'])); // same name and key hash: the newer one holds them
    directory.remove('c1');
    expect(directory.findById('c1')).toBeUndefined();
    expect(directory.findApiKey('h1')!.credential.id).toBe('c2');
    expect(directory.findCredential('proj', 'alice')!.id).toBe('c2');
    directory.remove('c2');
    expect(directory.findApiKey('h1')).toBeUndefined();
    expect(directory.size).toBe(0);
    directory.remove('unknown');
  });

  it('finds a credential by username only while exactly one project uses that name', () => {
    const directory = new CredentialDirectory([credential('c1', 'alice', [], 'p1')]);
    expect(directory.findByUsername('alice')!.id).toBe('c1');
    directory.upsert(credential('c2', 'alice', [], 'p2'));
    expect(directory.findByUsername('alice')).toBeUndefined();
    directory.remove('c1');
    expect(directory.findByUsername('alice')!.id).toBe('c2');
    expect(directory.sourceOf('c2')!.projectId).toBe('p2');
  });
});

describe('CredentialDirectory: compiled on lookup, a bounded number at a time', () => {
  it('refuses a disabled, rotated or removed credential at the next lookup even when it was cached', () => {
    const directory = new CredentialDirectory([credential('c1', 'alice', ['h1'])]);
    expect(directory.findApiKey('h1')!.credential.enabled).toBe(true);
    expect(directory.findCredential('proj', 'alice')!.enabled).toBe(true);
    directory.upsert({ ...credential('c1', 'alice', ['h1']), enabled: false });
    expect(directory.findApiKey('h1')!.credential.enabled).toBe(false);
    expect(directory.findCredential('proj', 'alice')!.enabled).toBe(false);
    expect(directory.findById('c1')!.enabled).toBe(false);
    directory.upsert({ ...credential('c1', 'alice', ['h1']), endUser: snapshotEndUser({ locked: true }) });
    expect(directory.findById('c1')!.enabled).toBe(false); // a locked end user authenticates nowhere
    directory.upsert({ ...credential('c1', 'alice', ['h1']), endUser: snapshotEndUser() });
    expect(directory.findById('c1')!.enabled).toBe(true);
    directory.upsert(credential('c1', 'alice', ['h2'])); // key rotated
    expect(directory.findApiKey('h1')).toBeUndefined();
    expect(directory.findApiKey('h2')).toMatchObject({ hash: 'h2', credential: { id: 'c1', enabled: true } });
    directory.remove('c1');
    expect([directory.findApiKey('h2'), directory.findById('c1'), directory.findCredential('proj', 'alice'), directory.findByUsername('alice')]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('a username cached as unique stops answering when a second project takes it', () => {
    const directory = new CredentialDirectory([credential('c1', 'alice', [], 'p1')]);
    expect(directory.findByUsername('alice')!.id).toBe('c1');
    directory.upsert(credential('c2', 'alice', [], 'p2'));
    expect(directory.findByUsername('alice')).toBeUndefined();
  });

  it('answers every lookup right with far more credentials than it keeps compiled, and gives the same entry while it is kept', () => {
    const n = 2_000;
    const directory = new CredentialDirectory(
      Array.from({ length: n }, (_, i) => ({ ...credential(`c${i}`, `user${i}`, [`hash${i}`]), roles: i % 2 ? ['odd'] : [] })),
      { compiledCredentials: 16, slabBytes: 4096 },
    );
    const wrong: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < n; i++) {
        const key = directory.findApiKey(`hash${i}`);
        const byId = directory.findById(`c${i}`);
        const ok =
          key?.credential.id === `c${i}` &&
          byId?.username === `user${i}` &&
          directory.findCredential('proj', `user${i}`)?.id === `c${i}` &&
          directory.findByUsername(`user${i}`)?.id === `c${i}` &&
          directory.sourceOf(`c${i}`)?.roles.length === i % 2;
        if (!ok) wrong.push(i);
      }
    }
    expect(wrong).toEqual([]);
    const hot = directory.findById('c5');
    expect(directory.findById('c5')).toBe(hot);
    expect(directory.size).toBe(n);
  });
});
