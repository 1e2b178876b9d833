import type { SnapshotCredential } from '@idm/config-bus';
import { CredentialDirectory } from './credential-directory';

const credential = (id: string, username: string, keyHashes: string[], projectId = 'proj'): SnapshotCredential => ({
  id,
  projectId,
  username,
  passwordHash: null,
  enabled: true,
  expiresAt: null,
  apiKeys: keyHashes.map((hash, i) => ({ id: `${id}-k${i}`, prefix: 'idm_x', hash, expiresAt: null })),
  roles: [],
  metadata: [],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
});

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
