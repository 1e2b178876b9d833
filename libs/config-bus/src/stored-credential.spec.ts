import { setFlagsFromString } from 'node:v8';
import { runInThisContext } from 'node:vm';
import { snapshotCredentialSchema } from './snapshot.schema';
import { parseStoredCredential } from './stored-credential';

/** A credential as the Manager stores it: every schema field, defaults filled (environment-entities.ts). */
const stored = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'c1',
  projectId: 'p1',
  username: 'alice',
  passwordHash: null,
  enabled: true,
  expiresAt: null,
  apiKeys: [{ id: 'k1', prefix: 'idm_aaaa', hash: 'a'.repeat(64), expiresAt: null }],
  roles: [],
  metadata: [],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
  ...overrides,
});

const withZod = (json: string) => snapshotCredentialSchema.parse(JSON.parse(json));

describe('parseStoredCredential', () => {
  afterEach(() => jest.restoreAllMocks());

  it('reads a credential as the Manager stores it without zod, to exactly what zod returns', () => {
    const jsons = [
      JSON.stringify(stored()),
      JSON.stringify(
        stored({
          passwordHash: '$argon2id$v=19$x',
          enabled: false,
          expiresAt: '2030-01-01T00:00:00.000Z',
          roles: ['reader'],
          digestHa1: 'enc:v1:ha1',
          truststore: ['PEM'],
          apiKeys: [],
        }),
      ),
      // Written by zod itself: every field of the schema, so a field added to it is noticed here.
      JSON.stringify(snapshotCredentialSchema.parse({ ...stored(), endUser: undefined, roles: undefined })),
    ];
    const expected = jsons.map(withZod);
    const zod = jest.spyOn(snapshotCredentialSchema, 'parse');
    expect(jsons.map(parseStoredCredential)).toEqual(expected);
    expect(zod).not.toHaveBeenCalled();
  });

  it.each([
    ['a field left to its default (a writer from before end users)', { endUser: undefined }],
    ['an unknown field (stripped)', { future: 1 }],
    ['an unknown API-key field (stripped)', { apiKeys: [{ id: 'k1', prefix: 'p', hash: 'h', expiresAt: null, extra: true }] }],
    ['metadata', { metadata: [{ key: 'team', value: 'x', secret: false, includeInJwt: true, includeInTokenResponse: false }] }],
    ['authorization rules', { access: { acl: { rules: [] } } }],
    ['token settings', { tokenSettings: { grants: ['client_credentials'] } }],
    [
      'an end-user profile (its identity source defaulted)',
      { endUser: { email: 'a@x', emailVerified: true, name: null, givenName: null, familyName: null, locale: null, pictureUrl: null, attributes: {}, locked: false } },
    ],
  ])('hands %s to zod, with the same result', (_, overrides) => {
    const json = JSON.stringify(stored(overrides));
    const expected = withZod(json);
    const zod = jest.spyOn(snapshotCredentialSchema, 'parse');
    expect(parseStoredCredential(json)).toEqual(expected);
    expect(zod).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['a wrong type', { enabled: 'true' }],
    ['a missing required field', { username: undefined }],
    ['an API key without its expiry', { apiKeys: [{ id: 'k1', prefix: 'p', hash: 'h' }] }],
    ['a role that is not a string', { roles: [1] }],
    ['an array for an object', { access: [] }],
  ])('refuses %s as zod does', (_, overrides) => {
    expect(() => parseStoredCredential(JSON.stringify(stored(overrides)))).toThrow(expect.objectContaining({ name: 'ZodError' }));
  });

  it('gives a "__proto__" field no say over the result (zod strips it as any unknown field)', () => {
    const json = JSON.stringify(stored()).replace(/^\{/, '{"__proto__":{"enabled":false},');
    const parsed = parseStoredCredential(json);
    expect(parsed).toEqual(withZod(json));
    expect(Object.prototype.hasOwnProperty.call(parsed, '__proto__')).toBe(false);
  });

  it('refuses text that is not JSON', () => {
    expect(() => parseStoredCredential('{"id":')).toThrow(SyntaxError);
  });

  it("leaves a short username out of V8's string table, with the same value", () => {
    // V8's own answer (natives syntax, enabled for this isolate): JSON.parse interns a value of 10 characters or fewer.
    setFlagsFromString('--allow-natives-syntax');
    const isInternalized = runInThisContext('(s) => %IsInternalizedString(s)') as (s: string) => boolean;
    const json = JSON.stringify(stored({ username: 'c77412' }));
    expect(isInternalized((JSON.parse(json) as { username: string }).username)).toBe(true);

    const parsed = parseStoredCredential(json);
    expect(parsed.username).toBe('c77412');
    expect(isInternalized(parsed.username)).toBe(false);
    expect(parsed).toEqual(withZod(json));
  });

  it('reads usernames with escapes, quotes, non-Latin text or none at all as JSON.parse does', () => {
    for (const username of ['a"b\\c', '\u0000x', 'ünï', '𝒜', '', 'x'.repeat(40)]) {
      const json = JSON.stringify(stored({ username }));
      expect(parseStoredCredential(json)).toEqual(withZod(json));
    }
  });

  it('reads a credential in another field order or layout as JSON.parse does', () => {
    const { username, ...rest } = stored({ username: 'bob' });
    const reordered = JSON.stringify({ username, ...rest });
    expect(parseStoredCredential(reordered)).toEqual(withZod(reordered));
    const spaced = JSON.stringify(stored(), null, 1);
    expect(parseStoredCredential(spaced)).toEqual(withZod(spaced));
  });
});
