import { EnvironmentConfigStore } from '@idm/config-bus';
import { TestPki, type TestCertificate } from '@idm/test-kit';
import Redis from 'ioredis';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The project secret manager over the admin API on PostgreSQL: every kind read and sealed, the
 * private material never answered, audited masked, published only with the proxies whose
 * policies name it, rotated with overlap, guarded by `secret:*`, hostile input refused with 4xx.
 */
describe('project secrets', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let pki: TestPki;
  let ca: TestCertificate;
  let leaf: TestCertificate;
  const redis = new Redis(REDIS_URL);
  const env = `secrets-${randomBytes(4).toString('hex')}`;
  let projectId = '';
  let otherProjectId = '';
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecPem = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const privateD = (ec.privateKey.export({ format: 'jwk' }) as { d: string }).d;
  const ok = async (method: string, url: string, body?: unknown) => {
    const r = await m.request(method, url, body);
    if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const secretsUrl = (p = projectId) => `/api/v1/projects/${p}/secrets`;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    pki = await TestPki.create();
    ca = await pki.issue('ca', { subject: '/CN=Secrets CA', ca: true });
    leaf = await pki.issue('leaf', { subject: '/CN=signer', issuer: ca });
    await ok('POST', '/api/v1/environments', { name: env });
    projectId = (await ok('POST', '/api/v1/projects', { name: `sec-${randomBytes(3).toString('hex')}` })).id;
    otherProjectId = (await ok('POST', '/api/v1/projects', { name: `other-${randomBytes(3).toString('hex')}` })).id;
  }, 60000);

  afterAll(async () => {
    await m?.close();
    await new EnvironmentConfigStore(redis).remove(env);
    redis.disconnect();
    await pki?.remove();
    await database?.drop();
  });

  it('creates every kind and answers public parts only', async () => {
    const key = await ok('POST', secretsUrl(), { name: 'signer', kind: 'private-key', material: ecPem, kid: 'sig-1' });
    expect(key).toMatchObject({
      kind: 'private-key',
      currentVersion: 1,
      versions: [{ version: 1, kid: 'sig-1', hasSecretMaterial: true, retiresAt: null, publicJwk: { kty: 'EC', crv: 'P-256', kid: 'sig-1' } }],
    });
    expect(JSON.stringify(key)).not.toContain(privateD);
    expect(key.versions[0].publicJwk.d).toBeUndefined();
    const pub = await ok('POST', secretsUrl(), { name: 'partner-pub', kind: 'public-key', material: ec.publicKey.export({ format: 'jwk' }) });
    expect(pub.versions[0]).toMatchObject({ hasSecretMaterial: false, kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const cert = await ok('POST', secretsUrl(), { name: 'cert', kind: 'certificate', material: leaf.cert + ca.cert, privateKey: leaf.key });
    expect(cert.versions[0]).toMatchObject({
      hasSecretMaterial: true,
      certificates: [expect.stringContaining('BEGIN CERTIFICATE'), expect.any(String)],
      x5tS256: expect.any(String),
    });
    expect(cert.versions[0].publicJwk.x5c).toHaveLength(2);
    const trust = await ok('POST', secretsUrl(), { name: 'partners-ca', kind: 'trust-store', material: ca.cert });
    expect(trust.versions[0]).toMatchObject({ hasSecretMaterial: false, publicJwk: null, certificates: [expect.any(String)] });
    const shared = randomBytes(32).toString('base64url');
    const hs = await ok('POST', secretsUrl(), { name: 'hmac', kind: 'shared-secret', material: shared });
    expect(hs.versions[0]).toMatchObject({ hasSecretMaterial: true, publicJwk: null });
    expect(JSON.stringify(await ok('GET', secretsUrl()))).not.toContain(shared);
    expect((await ok('GET', `${secretsUrl()}/${key.id}`)).name).toBe('signer');
  });

  it('seals private material at rest and masks it in the audit diff', async () => {
    const shared = randomBytes(32).toString('base64url');
    const created = await ok('POST', secretsUrl(), { name: 'sealed', kind: 'shared-secret', material: shared });
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query('select versions::text as v from project_secrets where id = $1', [created.id]);
      expect(rows[0].v).toMatch(/"sealed": "enc:v1:/);
      expect(rows[0].v).not.toContain(shared);
    } finally {
      await client.end();
    }
    const audit = await ok('GET', `/api/v1/audit?entityKind=project_secret&entityId=${created.id}`);
    expect(audit.items).toHaveLength(1);
    expect(JSON.stringify(audit.items[0].diff)).toContain('[secret]');
    expect(JSON.stringify(audit.items[0])).not.toContain(shared);
    expect(JSON.stringify(audit.items[0])).not.toMatch(/enc:v1:/);
  });

  it('publishes a secret only with the deployed proxies whose policies name it, and republishes them on rotation', async () => {
    const secret = await ok('POST', secretsUrl(), { name: 'published', kind: 'private-key', material: ecPem, kid: 'v1' });
    await ok('POST', secretsUrl(), { name: 'unreferenced', kind: 'private-key', material: ecPem, kid: 'unref' });
    const policies = [{ type: 'jose-implementation', config: { sign: { alg: 'ES256', key: { source: 'secret', secretId: secret.id } } } }];
    const signed = await ok('POST', `/api/v1/projects/${projectId}/proxies`, {
      name: 'signed',
      basePath: `/signed-${env}`,
      upstreamUrl: 'http://127.0.0.1:9',
      policies,
      environments: [env],
    });
    await ok('POST', `/api/v1/projects/${projectId}/proxies`, { name: 'plain', basePath: `/plain-${env}`, upstreamUrl: 'http://127.0.0.1:9', environments: [env] });
    const store = new EnvironmentConfigStore(redis);
    const published = async () => (await store.load(env))!.proxies;
    const proxies = await published();
    const withSecret = proxies.find((p) => p.id === signed.id)!;
    expect(withSecret.secrets).toHaveLength(1);
    expect(withSecret.secrets![0]).toMatchObject({ id: secret.id, kind: 'private-key', versions: [{ kid: 'v1', sealed: expect.stringMatching(/^enc:v1:/) }] });
    expect(proxies.find((p) => p.name === 'plain')!.secrets).toBeUndefined();
    // An mtls-auth proxy's trust store is published with it too.
    const cas = await ok('POST', secretsUrl(), { name: 'client-cas', kind: 'trust-store', material: ca.cert });
    const mtls = await ok('POST', `/api/v1/projects/${projectId}/proxies`, {
      name: 'mtls',
      basePath: `/mtls-${env}`,
      upstreamUrl: 'http://127.0.0.1:9',
      policies: [{ type: 'mtls-auth', config: { trustStoreSecretId: cas.id } }],
      environments: [env],
    });
    expect((await published()).find((p) => p.id === mtls.id)!.secrets).toEqual([expect.objectContaining({ id: cas.id, kind: 'trust-store' })]);
    await ok('DELETE', `/api/v1/projects/${projectId}/proxies/${mtls.id}`);
    expect(JSON.stringify(proxies)).not.toContain('unref');

    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    const rotated = await ok('POST', `${secretsUrl()}/${secret.id}/versions`, { material: other, kid: 'v2', overlapSeconds: 600 });
    expect(rotated.currentVersion).toBe(2);
    expect(rotated.versions.map((v: { kid: string; retiresAt: string | null }) => [v.kid, v.retiresAt === null])).toEqual([
      ['v1', false],
      ['v2', true],
    ]);
    expect(Date.parse(rotated.versions[0].retiresAt) - Date.now()).toBeGreaterThan(590_000);
    const republished = (await published()).find((p) => p.id === signed.id)!;
    expect(republished.secrets![0].versions.map((v) => v.kid)).toEqual(['v1', 'v2']);
    // A rotation reusing a kid still in use would make two keys answer to one kid.
    expect((await m.request('POST', `${secretsUrl()}/${secret.id}/versions`, { material: other, kid: 'v1' })).body).toMatchObject({ code: 'secret_kid_in_use' });
    // A rotation with no overlap drops the previous version at once.
    const cut = await ok('POST', `${secretsUrl()}/${secret.id}/versions`, { material: ecPem, kid: 'v3', overlapSeconds: 0 });
    expect(cut.versions.map((v: { kid: string }) => v.kid)).toEqual(['v1', 'v3']);
    expect((await published()).find((p) => p.id === signed.id)!.secrets![0].versions.map((v) => v.kid)).toEqual(['v1', 'v3']);

    expect(await m.request('DELETE', `${secretsUrl()}/${secret.id}`)).toMatchObject({ status: 409, body: { code: 'secret_in_use' } });
    await ok('PATCH', `/api/v1/projects/${projectId}/proxies/${signed.id}`, { policies: [] });
    expect((await m.request('DELETE', `${secretsUrl()}/${secret.id}`)).status).toBe(204);
    expect((await m.request('GET', `${secretsUrl()}/${secret.id}`)).status).toBe(404);
  });

  it("refuses to save a proxy naming another project's secret or an unknown one: 422 secret_not_usable, nothing written", async () => {
    const foreign = await ok('POST', secretsUrl(otherProjectId), { name: 'foreign', kind: 'private-key', material: ecPem, kid: 'foreign' });
    const trust = await ok('POST', secretsUrl(otherProjectId), { name: 'foreign-cas', kind: 'trust-store', material: ca.cert });
    const signWith = (secretId: string) => [{ type: 'jose-implementation', config: { sign: { alg: 'ES256', key: { source: 'secret', secretId } } } }];
    const proxiesUrl = `/api/v1/projects/${projectId}/proxies`;
    const thief = await m.request('POST', proxiesUrl, {
      name: 'thief',
      basePath: `/thief-${env}`,
      upstreamUrl: 'http://127.0.0.1:9',
      policies: signWith(foreign.id),
      environments: [env],
    });
    expect(thief).toMatchObject({ status: 422, body: { code: 'secret_not_usable', errors: [{ path: 'policies.0.config.sign.key.secretId' }] } });
    expect(JSON.stringify(thief.body)).not.toContain('foreign');
    const unknown = await m.request('POST', proxiesUrl, {
      name: 'thief',
      basePath: `/thief-${env}`,
      upstreamUrl: 'http://127.0.0.1:9',
      policies: signWith('00000000-0000-4000-8000-000000000000'),
    });
    expect(unknown).toMatchObject({ status: 422, body: { code: 'secret_not_usable' } });
    // Every secret reference counts, not only `secretId`: a JWKS fetch's trust store of another project too.
    const viaTrustStore = [
      { type: 'jose-validation', config: { verify: { key: { source: 'jwks', url: 'https://partner.example/jwks.json', trustStoreSecretId: trust.id }, algorithms: ['ES256'] } } },
    ];
    expect((await m.request('POST', proxiesUrl, { name: 'thief', basePath: `/thief-${env}`, upstreamUrl: 'http://127.0.0.1:9', policies: viaTrustStore })).body).toMatchObject({
      code: 'secret_not_usable',
      errors: [{ path: 'policies.0.config.verify.key.trustStoreSecretId' }],
    });
    // mtls-auth's trust store (trustStoreSecretId) is a reference like any other.
    const mtlsForeign = [{ type: 'mtls-auth', config: { trustStoreSecretId: trust.id } }];
    expect((await m.request('POST', proxiesUrl, { name: 'thief', basePath: `/thief-${env}`, upstreamUrl: 'http://127.0.0.1:9', policies: mtlsForeign })).body).toMatchObject({
      code: 'secret_not_usable',
      errors: [{ path: 'policies.0.config.trustStoreSecretId' }],
    });
    expect((await ok('GET', proxiesUrl)).some((p: { name: string }) => p.name === 'thief')).toBe(false);
    // An update is refused the same way and leaves the proxy as it was.
    const honest = await ok('POST', proxiesUrl, { name: 'honest', basePath: `/honest-${env}`, upstreamUrl: 'http://127.0.0.1:9', policies: [] });
    const patched = await m.request('PATCH', `${proxiesUrl}/${honest.id}`, { policies: signWith(foreign.id) });
    expect(patched).toMatchObject({ status: 422, body: { code: 'secret_not_usable' } });
    expect((await ok('GET', `${proxiesUrl}/${honest.id}`)).policies).toEqual([]);
    await ok('DELETE', `${proxiesUrl}/${honest.id}`);
  });

  it('accepts an oidc policy naming shared secrets of its project, and refuses a foreign secret or an invalid config', async () => {
    const shared = async (p: string, name: string) => ok('POST', secretsUrl(p), { name, kind: 'shared-secret', material: randomBytes(32).toString('base64url') });
    const clientSecret = await shared(projectId, `rp-client-${env}`);
    const cookieSecret = await shared(projectId, `rp-cookie-${env}`);
    const foreign = await shared(otherProjectId, `rp-foreign-${env}`);
    const proxiesUrl = `/api/v1/projects/${projectId}/proxies`;
    const oidc = (config: Record<string, unknown>) => [
      {
        type: 'oidc',
        config: { issuer: 'https://login.example.com/realms/acme', clientId: 'orders-web', clientSecretId: clientSecret.id, cookieSecretId: cookieSecret.id, ...config },
      },
    ];
    const proxy = (policies: unknown) =>
      m.request('POST', proxiesUrl, {
        name: `rp-${randomBytes(3).toString('hex')}`,
        basePath: `/rp-${randomBytes(3).toString('hex')}`,
        upstreamUrl: 'http://127.0.0.1:9',
        policies,
      });

    const saved = await proxy(oidc({ claimHeaders: { email: 'x-user-email' } }));
    expect(saved).toMatchObject({
      status: 201,
      body: { policies: [{ type: 'oidc', config: { cookieName: 'OIDC_SESSION', scopes: ['openid', 'profile', 'email'], cookieSecure: true } }] },
    });
    expect(await proxy(oidc({ cookieSecretId: foreign.id }))).toMatchObject({
      status: 422,
      body: { code: 'secret_not_usable', errors: [{ path: 'policies.0.config.cookieSecretId' }] },
    });
    for (const [config, path] of [
      [{ scopes: ['profile'] }, 'policies.0.config.scopes'],
      [{ issuer: 'http://login.example.com' }, 'policies.0.config.issuer'],
      [{ claimHeaders: { sub: 'x-authenticated-userid' } }, 'policies.0.config.claimHeaders.sub'],
      [{ cookieSecretId: undefined }, 'policies.0.config.cookieSecretId'],
      [{ unknownSetting: true }, 'policies.0.config'],
    ] as const) {
      const r = await proxy(oidc(config));
      expect([config, r.status, (r.body as { code: string }).code]).toEqual([config, 400, 'validation_failed']);
      expect((r.body as { errors: { path: string }[] }).errors.map((e) => e.path)).toContain(path);
    }
    await ok('DELETE', `${proxiesUrl}/${(saved.body as { id: string }).id}`);
  });

  it.each([
    ['a PEM that is no key', { kind: 'private-key', material: 'garbage' }, 'material'],
    ['a private key declared public', { kind: 'public-key', material: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) }, 'material'],
    [
      'an RSA key under 2048 bits',
      { kind: 'private-key', material: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) },
      'material',
    ],
    [
      'a curve JOSE does not name',
      { kind: 'private-key', material: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) },
      'material',
    ],
    ['a shared secret of 8 bytes', { kind: 'shared-secret', material: randomBytes(8).toString('base64url') }, 'material'],
    ['a shared secret that is not base64url', { kind: 'shared-secret', material: 'not base64!' }, 'material'],
    ['a trust store with a leaf certificate', { kind: 'trust-store', material: '' }, 'material'],
    ['a certificate with a key that is not its own', { kind: 'certificate', material: '', privateKey: '' }, 'privateKey'],
    ['a separate private key on a key secret', { kind: 'private-key', material: '', privateKey: '' }, 'privateKey'],
  ])('refuses %s with 400 and the field', async (_name, input, path) => {
    const body = { name: `bad-${randomBytes(3).toString('hex')}`, ...input } as Record<string, unknown>;
    if (_name.startsWith('a trust store')) body.material = leaf.cert;
    if (_name.startsWith('a certificate')) Object.assign(body, { material: leaf.cert, privateKey: ecPem });
    if (_name.startsWith('a separate')) Object.assign(body, { material: ecPem, privateKey: ecPem });
    const r = await m.request('POST', secretsUrl(), body);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'validation_failed', errors: [expect.objectContaining({ path })] });
  });

  it('refuses unknown kinds, unknown fields, a taken name, unknown ids and malformed ids with 4xx', async () => {
    expect((await m.request('POST', secretsUrl(), { name: 'k', kind: 'password', material: 'x' })).status).toBe(400);
    expect((await m.request('POST', secretsUrl(), { name: 'k', kind: 'shared-secret', material: randomBytes(32).toString('base64url'), extra: 1 })).status).toBe(400);
    await ok('POST', secretsUrl(), { name: 'taken', kind: 'shared-secret', material: randomBytes(32).toString('base64url') });
    expect(await m.request('POST', secretsUrl(), { name: 'taken', kind: 'shared-secret', material: randomBytes(32).toString('base64url') })).toMatchObject({
      status: 409,
      body: { code: 'name_taken' },
    });
    expect(await m.request('GET', `${secretsUrl()}/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`)).toMatchObject({ status: 404, body: { code: 'secret_not_found' } });
    expect((await m.request('GET', `${secretsUrl()}/not-a-uuid`)).status).toBe(400);
    expect((await m.request('POST', `${secretsUrl()}/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/versions`, { material: ecPem, overlapSeconds: -1 })).status).toBe(400);
  });

  it('requires secret:read / secret:write at the project and names the missing permission', async () => {
    const roles: { name: string; id: string }[] = await ok('GET', '/api/v1/roles');
    const login = async (role: string, scopeProject: string) => {
      const username = `${role.replace(/[^a-z]/g, '')}${randomBytes(3).toString('hex')}`;
      const user = await ok('POST', '/api/v1/users', { username, password: 'user-password-1' });
      await ok('POST', '/api/v1/role-bindings', {
        roleId: roles.find((r) => r.name === role)!.id,
        subject: { type: 'user', id: user.id },
        scope: { type: 'project', id: scopeProject },
      });
      return (await m.request('POST', '/api/v1/auth/login', { username, password: 'user-password-1' }, { token: null })).body.token as string;
    };
    const viewer = await login('project-viewer', projectId);
    expect((await m.request('GET', secretsUrl(), undefined, { token: viewer })).status).toBe(200);
    const denied = await m.request('POST', secretsUrl(), { name: 'nope', kind: 'shared-secret', material: randomBytes(32).toString('base64url') }, { token: viewer });
    expect(denied).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'secret:write', scope: { type: 'project', id: projectId } } });
    const outsider = await login('project-editor', otherProjectId);
    expect(await m.request('GET', secretsUrl(), undefined, { token: outsider })).toMatchObject({ status: 403, body: { permission: 'secret:read' } });
    const editor = await login('project-editor', projectId);
    expect((await m.request('POST', secretsUrl(), { name: 'by-editor', kind: 'shared-secret', material: randomBytes(32).toString('base64url') }, { token: editor })).status).toBe(
      201,
    );
  });
});
