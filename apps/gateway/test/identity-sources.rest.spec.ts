import { restSourceConfigSchema, type IdentitySourceDefinition, type RestSourceConfig } from '@idm/domain';
import { freePort, RestLoginServer, TestPki, type TestCertificate } from '@idm/test-kit';
import { IdentitySources } from '../src/identity-sources/identity-sources';
import { RestSource, SourceUnavailableError } from '@idm/identity-sources';

/**
 * Identity sources of type rest against a real HTTP(S) login endpoint started here: the answer's
 * status and JSON decide, credentials travel encoded (never spliced), and every hostile endpoint
 * (down, hung, huge, redirecting, broken, garbage) fails closed with a reason code.
 */
describe('REST identity source (undici against a real HTTP endpoint)', () => {
  let server: RestLoginServer;
  let secure: RestLoginServer;
  let ca: TestCertificate;
  const sources: RestSource[] = [];
  const API_KEY = 'rest-api-key-5f1c';

  beforeAll(async () => {
    server = await RestLoginServer.start({ apiKey: API_KEY });
    const pki = await TestPki.create();
    ca = await pki.issue('rest-ca', { subject: '/CN=REST test CA', ca: true });
    secure = await RestLoginServer.start({ tls: await pki.issue('rest-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' }) });
  });

  afterAll(async () => {
    await Promise.all(sources.map((s) => s.close()));
    await server?.close();
    await secure?.close();
  });

  const config = (path: string, overrides: Record<string, unknown> = {}, base = server.url): RestSourceConfig =>
    restSourceConfigSchema.parse({
      url: `${base}${path}`,
      secretHeader: { name: 'Authorization' },
      attributes: { email: '/user/email', displayName: '/user/name', groups: '/user/groups' },
      ...overrides,
    });
  const source = (c: RestSourceConfig, secret: string | null = API_KEY, timeoutMs = 10_000) => {
    const s = new RestSource(c, secret, timeoutMs);
    sources.push(s);
    return s;
  };
  const failure = async (promise: Promise<unknown>): Promise<SourceUnavailableError> => {
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SourceUnavailableError);
    return err as SourceUnavailableError;
  };

  it('verifies a password with the API key and maps attributes from the JSON answer', async () => {
    expect(await source(config('/login')).check('erin', 'erin-pass')).toEqual({
      outcome: 'verified',
      identity: { username: 'erin', email: 'erin@example.test', displayName: 'Erin Rest', groups: ['admins', 'staff'] },
    });
    const sent = server.requests.at(-1)!;
    expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent.body)).toEqual({ username: 'erin', password: 'erin-pass' });
  });

  it('rejects a wrong password and an unknown user (401), without telling which', async () => {
    const s = source(config('/login'));
    expect(await s.check('erin', 'wrong')).toEqual({ outcome: 'rejected' });
    expect(await s.check('nobody', 'erin-pass')).toEqual({ outcome: 'rejected' });
  });

  it('holds a 200 to the success condition: {authenticated: false} is a rejection', async () => {
    const s = source(config('/soft-login', { success: { pointer: '/authenticated', equals: true } }));
    expect(await s.check('erin', 'wrong')).toEqual({ outcome: 'rejected' });
    expect((await s.check('frank', 'frank-pass')).outcome).toBe('verified');
    // "true" as a string is not the boolean true: no loose comparison lets a user in.
    const loose = source(config('/soft-login', { success: { pointer: '/authenticated', equals: 'true' } }));
    expect(await loose.check('frank', 'frank-pass')).toEqual({ outcome: 'rejected' });
  });

  it('sends the credentials encoded, so a crafted username cannot add or override fields', async () => {
    const s = source(config('/login', { extraFields: { realm: 'staff' } }));
    const crafted = 'erin","password":"erin-pass';
    expect(await s.check(crafted, 'wrong')).toEqual({ outcome: 'rejected' });
    expect(JSON.parse(server.requests.at(-1)!.body)).toEqual({ realm: 'staff', username: crafted, password: 'wrong' });
    const form = source(config('/login', { encoding: 'form' }));
    expect(await form.check('erin&password=erin-pass', 'wrong')).toEqual({ outcome: 'rejected' });
    expect(server.requests.at(-1)!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect((await form.check('erin', 'erin-pass')).outcome).toBe('verified');
  });

  it('lets no one in with a wrong API key (403 rejects) and fails closed as source_misconfigured without its secret', async () => {
    // 403 is a rejecting status by default: a wrong key lets no one in.
    expect(await source(config('/login'), 'wrong-key').check('erin', 'erin-pass')).toEqual({ outcome: 'rejected' });
    const err = await failure(source(config('/login'), null).check('erin', 'erin-pass'));
    expect(err.code).toBe('source_misconfigured');
  });

  it('an endpoint that is down is source_unavailable, never a success', async () => {
    const closed = await freePort();
    const err = await failure(source(config('/login', {}, `http://127.0.0.1:${closed}`)).check('erin', 'erin-pass'));
    expect(err.code).toBe('source_unavailable');
    expect(err.message).not.toContain('erin-pass');
  });

  it('a hung endpoint is source_timeout within the source timeout', async () => {
    const err = await failure(source(config('/slow'), API_KEY, 300).check('erin', 'erin-pass'));
    expect(err.code).toBe('source_timeout');
  });

  it('a huge answer is refused (size limit), a 500 and a non-JSON answer are unavailable', async () => {
    const huge = await failure(source(config('/huge')).check('erin', 'erin-pass'));
    expect(huge.code).toBe('source_unavailable');
    expect(huge.message).toMatch(/more than \d+ bytes/);
    expect((await failure(source(config('/broken')).check('erin', 'erin-pass'))).message).toContain('answered 500');
    expect((await failure(source(config('/garbage')).check('erin', 'erin-pass'))).message).toContain('not JSON');
  });

  it('does not follow a redirect (to an endpoint that would say yes)', async () => {
    const before = server.hits('/login');
    const err = await failure(source(config('/redirect')).check('erin', 'erin-pass'));
    expect(err).toMatchObject({ code: 'source_unavailable', message: expect.stringContaining('answered 302') });
    expect(server.hits('/login')).toBe(before);
  });

  it('speaks https to an endpoint whose certificate chains to the source CA, and refuses it without', async () => {
    const pinned = source(config('/login', { caPem: ca.cert, secretHeader: undefined }, secure.url), null);
    expect((await pinned.check('erin', 'erin-pass')).outcome).toBe('verified');
    const unpinned = await failure(source(config('/login', { secretHeader: undefined }, secure.url), null).check('erin', 'erin-pass'));
    expect(unpinned.code).toBe('source_unavailable');
  });

  it('is held to the upstream address policy before each request (nothing is sent to a refused address)', async () => {
    const refused: string[] = [];
    const sourcesUnderPolicy = new IdentitySources(
      () => undefined,
      async (host, port) => {
        refused.push(`${host}:${port}`);
        return 'loopback addresses are not allowed';
      },
    );
    const definition: IdentitySourceDefinition = {
      id: 'rest-1',
      name: 'rest-api',
      type: 'rest',
      config: config('/login'),
      secret: API_KEY,
      roleMappings: { admins: ['admin'] },
      timeoutMs: 5000,
      cacheTtlSeconds: 0,
    };
    const before = server.requests.length;
    await sourcesUnderPolicy.load([definition]);
    expect(await sourcesUnderPolicy.login(['rest-api'], 'erin', 'erin-pass')).toEqual({ outcome: 'unavailable', code: 'source_misconfigured', source: 'rest-api' });
    expect(refused).toEqual([`127.0.0.1:${new URL(server.url).port}`]);
    expect(server.requests.length).toBe(before);
    await sourcesUnderPolicy.close();

    const allowed = new IdentitySources(
      () => undefined,
      async () => null,
    );
    await allowed.load([definition]);
    expect(await allowed.login(['rest-api'], 'erin', 'erin-pass')).toMatchObject({ outcome: 'verified', roles: ['admin'] });
    await allowed.close();
  });
});
