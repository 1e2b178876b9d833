import { setFlagsFromString } from 'node:v8';
import { runInThisContext } from 'node:vm';
import type { ConfigChangedMessage } from './config-changed.message';
import { decodeConfigChanged, encodeConfigChanged } from './config-changed.wire';
import type { SnapshotCredential, SnapshotIdentitySource } from './snapshot.schema';

const credential = (id: string, username: string): SnapshotCredential => ({
  id,
  projectId: 'p1',
  username,
  passwordHash: null,
  enabled: true,
  expiresAt: null,
  apiKeys: [],
  roles: [],
  metadata: [{ key: 'username', value: 'not-a-key', secret: false, includeInJwt: false, includeInTokenResponse: false }],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
});

const change = (usernames: string[], extra: Partial<ConfigChangedMessage> = {}): ConfigChangedMessage => ({
  environment: 'prod',
  epoch: 'e1',
  revision: 2,
  previousRevision: 1,
  proxies: { upserted: [], removed: [] },
  credentials: { upserted: usernames.map((u, i) => credential(`c${i}`, u)), removed: ['gone'] },
  ...extra,
});

describe('decodeConfigChanged', () => {
  it('gives back exactly the change encodeConfigChanged wrote, usernames of any length and nested username keys included', () => {
    // An identity source whose settings hold a `username` too (a bind account): it must come back unchanged.
    const source = { id: 's1', type: 'ldap', config: { username: 'cn=svc', nested: [{ username: '' }] } } as unknown as SnapshotIdentitySource;
    const sent = change(['a', 'short-name', 'a-username-longer-than-ten', ' spaced ', 'é', 'quote"d'], { identitySources: [source] });
    expect(decodeConfigChanged(encodeConfigChanged('config.changed:prod', sent).text)).toEqual(sent);
  });

  it('does not intern the usernames (a million unique ones grew V8 string table in whole-table rehashes)', () => {
    setFlagsFromString('--allow-natives-syntax');
    const isInternalized = runInThisContext('(s) => %IsInternalizedString(s)') as (s: string) => boolean;
    const text = encodeConfigChanged('config.changed:prod', change(['u83121', 'u83122'])).text;
    // What the check would see without the padding: JSON.parse interns values of 10 characters or fewer.
    expect(isInternalized((JSON.parse(text) as { data: ConfigChangedMessage }).data.credentials.upserted[0].username)).toBe(true);
    const decoded = decodeConfigChanged(text) as ConfigChangedMessage;
    expect(decoded.credentials.upserted.map((c) => c.username)).toEqual(['u83121', 'u83122']);
    for (const c of decoded.credentials.upserted) expect(isInternalized(c.username)).toBe(false);
  });

  it('parses a username key written with whitespace as plain JSON (nothing padded, nothing cut)', () => {
    const text = '{"pattern":"config.changed","data":{"credentials":{"upserted":[{"username" : "abc"},{"username":"de"}]}}}';
    expect(decodeConfigChanged(text)).toEqual({ credentials: { upserted: [{ username: 'abc' }, { username: 'de' }] } });
  });

  it.each([
    ['not JSON', '{"pattern":"config.changed","data":{'],
    ['a JSON string', '"config.changed"'],
    ['null', 'null'],
    ['no data', '{"pattern":"config.changed"}'],
    ['empty', ''],
  ])('is undefined for text that is no bus message (%s)', (_name, text) => {
    expect(decodeConfigChanged(text)).toBeUndefined();
  });
});
