import { eventually } from '@idm/test-kit';
import { randomBytes } from 'node:crypto';
import { startAdminFixture, type AdminFixture } from './support/admin-fixture';
import type { InProcessManager } from './support/in-process-manager';

const CLIENT_SECRET = `introspection-secret-${randomBytes(12).toString('hex')}`;

/**
 * Key managers through the admin API (in-process Manager, PGlite, real Redis): validation of
 * every cross-field rule, System vs Project scope with the permission named in a 403, secrets
 * sealed (never in answers, masked in the audit, sealed in the published environment), and what
 * a proxy may name: existing, its project's or System ones, allowed by the ALLOW/DENY role list.
 */
describe('key managers (admin API)', () => {
  const s = randomBytes(3).toString('hex');
  let f: AdminFixture;
  let m: InProcessManager;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const external = (name: string, extra: Record<string, unknown> = {}) => ({
    name: `${name}-${s}`,
    issuer: `https://${name}-${s}.example.com/realms/main`,
    discoveryUrl: `https://${name}-${s}.example.com/realms/main/.well-known/openid-configuration`,
    ...extra,
  });
  const proxyWith = (projectId: string, keyManagers: string[], token?: string) =>
    m.request(
      'POST',
      `/api/v1/projects/${projectId}/proxies`,
      {
        name: `p${randomBytes(3).toString('hex')}`,
        basePath: `/km-${randomBytes(4).toString('hex')}`,
        upstreamUrl: 'http://93.184.215.14',
        policies: [{ type: 'jwt-auth', config: { keyManagers } }],
      },
      token ? { token } : {},
    );

  beforeAll(async () => {
    f = await startAdminFixture('km', s, ['project-owner', 'project-editor']);
    m = f.m;
    Object.assign(ids, { p1: f.p1, p2: f.p2 });
    Object.assign(tokens, f.tokens);
  }, 300_000); // an in-process Manager took 70 s to boot under the load of 8 parallel agents

  afterAll(() => f?.close());

  it('creates a System key manager: secrets sealed, never answered, masked in the audit, published to every environment', async () => {
    const created = await m.request(
      'POST',
      '/api/v1/key-managers',
      external('keycloak', { tokenTypes: 'both', clientId: 'gateway', clientSecret: CLIENT_SECRET, algorithms: ['RS256', 'ES256'] }),
    );
    expect(created.status).toBe(201);
    ids.system = created.body.id;
    expect(created.body).toMatchObject({ projectId: null, type: 'external', hasClientSecret: true, tokenTypes: 'both', algorithms: ['RS256', 'ES256'], enabled: true });
    expect(JSON.stringify(created.body)).not.toContain(CLIENT_SECRET);
    expect((await m.request('GET', `/api/v1/key-managers/${ids.system}`)).body).toEqual(created.body);

    const snapshot = await eventually(
      () => f.published(),
      (sn) => sn?.keyManagers.some((k) => k.id === ids.system) === true,
      { what: 'the key manager to be published' },
    );
    const published = snapshot!.keyManagers.find((k) => k.id === ids.system)!;
    expect(published.clientSecret).toMatch(/^enc:v1:m1:/);
    expect(f.box.open(published.clientSecret!)).toBe(CLIENT_SECRET);

    const audit = (await m.request('GET', '/api/v1/audit?limit=50')).body;
    const event = audit.items.find((e: any) => e.entity.kind === 'key_manager' && e.entity.id === ids.system);
    expect(event).toMatchObject({ action: 'key_manager.create' });
    expect(JSON.stringify(event)).not.toContain(CLIENT_SECRET);
    expect(event.diff.clientSecret).toEqual({ changed: true, secret: true });

    const rotated = await m.request('PATCH', `/api/v1/key-managers/${ids.system}`, { clientSecret: `${CLIENT_SECRET}-2`, audiences: ['urn:api'] });
    expect(rotated.status).toBe(200);
    expect(rotated.body.audiences).toEqual(['urn:api']);
    const again = (await m.request('GET', '/api/v1/audit?limit=50')).body.items.find((e: any) => e.entity.kind === 'key_manager' && e.action === 'key_manager.update');
    expect(again.diff).toMatchObject({ clientSecret: { changed: true, secret: true }, settings: expect.any(Object) });
  });

  it('refuses what cannot be a safe key manager, with the field and a reason, and writes nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [external('hs', { algorithms: ['HS256'] }), 'algorithms'],
      [external('none', { algorithms: ['none'] }), 'algorithms.0'],
      [{ name: `noissuer-${s}`, jwksUri: 'https://x.example.com/jwks' }, 'issuer'],
      [{ name: `nokeys-${s}`, issuer: 'https://nokeys.example.com' }, 'jwksUri'],
      [external('opaque', { tokenTypes: 'opaque' }), 'clientId'],
      [external('tls', { tls: { clientCertificatePem: '-----BEGIN CERTIFICATE-----' } }), 'tls'],
      [{ name: `builtin-${s}`, type: 'builtin', issuer: 'https://x.example.com' }, 'issuer'],
      [external('creds', { jwksUri: 'https://user:pw@x.example.com/jwks' }), 'jwksUri'],
      [external('scheme', { jwksUri: 'file:///etc/passwd' }), 'jwksUri'],
      [external('extra', { surprise: true }), 'surprise'],
      [external('short', { algorithms: ['HS256'], sharedSecret: 'too-short' }), 'sharedSecret'],
      [external('both', { roleList: { type: 'ALLOW', roles: [] } }), 'roleList.roles'],
    ];
    for (const [body, path] of cases) {
      const res = await m.request('POST', '/api/v1/key-managers', body);
      expect({ body, status: res.status, type: res.headers['content-type'] }).toMatchObject({ body, status: 400, type: expect.stringContaining('application/problem+json') });
      expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    }
    const before = (await m.request('GET', '/api/v1/key-managers')).body.length;
    const duplicate = await m.request('POST', '/api/v1/key-managers', external('keycloak'));
    expect(duplicate).toMatchObject({ status: 409, body: { code: 'key_manager_name_taken' } });
    const sameIssuer = await m.request('POST', '/api/v1/key-managers', { ...external('keycloak'), name: `other-${s}` });
    expect(sameIssuer).toMatchObject({ status: 409, body: { code: 'key_manager_issuer_taken' } });
    // An update is checked as a whole: dropping the secret introspection needs is refused.
    expect((await m.request('PATCH', `/api/v1/key-managers/${ids.system}`, { clientSecret: null })).body.errors.map((e: any) => e.path)).toContain('clientId');
    // The Gateways call these endpoints: held to the proxies' outbound address policy (this Manager runs with
    // UPSTREAM_ALLOW=127.0.0.1 and no UPSTREAM_ALLOW_INTERNAL), on create and on update, with the field.
    for (const [field, url] of [
      ['jwksUri', 'http://169.254.169.254/latest/meta-data/jwks'],
      ['discoveryUrl', 'http://[::1]:9/.well-known/openid-configuration'],
      ['introspectionEndpoint', 'http://127.0.0.2/introspect'],
    ] as const) {
      const refused = await m.request('POST', '/api/v1/key-managers', external(`ssrf-${field.toLowerCase()}`, { [field]: url }));
      expect(refused).toMatchObject({ status: 422, body: { code: 'upstream_forbidden', reason: 'internal_address', errors: [{ path: field }] } });
      const patched = await m.request('PATCH', `/api/v1/key-managers/${ids.system}`, { [field]: url });
      expect(patched).toMatchObject({ status: 422, body: { code: 'upstream_forbidden', errors: [{ path: field }] } });
    }
    expect(JSON.stringify((await m.request('GET', `/api/v1/key-managers/${ids.system}`)).body)).not.toMatch(/169\.254|::1|127\.0\.0\.2/);
    expect((await m.request('GET', '/api/v1/key-managers')).body.length).toBe(before);
    // The operator's opt-in counts here as for upstreams: 127.0.0.1 is allowed on this Manager.
    const optedIn = await m.request('POST', '/api/v1/key-managers', external('loopback', { jwksUri: 'http://127.0.0.1:9/jwks' }));
    expect(optedIn.status).toBe(201);
    await m.request('DELETE', `/api/v1/key-managers/${optedIn.body.id}`);
    expect((await m.request('GET', '/api/v1/key-managers/not-a-uuid')).status).toBe(400);
    expect((await m.request('GET', '/api/v1/key-managers/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('scopes writes: System ones need key-manager:write at System scope, a project one at its project; the 403 names the permission', async () => {
    const owner = { token: tokens['project-owner'] };
    const system = await m.request('POST', '/api/v1/key-managers', external('owner-system'), owner);
    expect(system).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'key-manager:write', scope: { type: 'system', id: null } } });
    const own = await m.request('POST', '/api/v1/key-managers', external('owner-own', { projectId: ids.p1 }), owner);
    expect(own.status).toBe(201);
    ids.p1Own = own.body.id;
    const elsewhere = await m.request('POST', '/api/v1/key-managers', external('owner-other', { projectId: ids.p2 }), owner);
    expect(elsewhere).toMatchObject({ status: 403, body: { permission: 'key-manager:write', scope: { type: 'project', id: ids.p2 } } });
    const editor = await m.request('POST', '/api/v1/key-managers', external('editor', { projectId: ids.p1 }), { token: tokens['project-editor'] });
    expect(editor).toMatchObject({ status: 403, body: { permission: 'key-manager:write' } });
    expect((await m.request('PATCH', `/api/v1/key-managers/${ids.system}`, { enabled: false }, owner)).status).toBe(403);
    // The owner sees System key managers and its project's, not another project's.
    ids.p2Own = (await m.request('POST', '/api/v1/key-managers', external('p2-own', { projectId: ids.p2 }))).body.id;
    const listed = (await m.request('GET', '/api/v1/key-managers', undefined, owner)).body.map((k: any) => k.id);
    expect(listed).toEqual(expect.arrayContaining([ids.system, ids.p1Own]));
    expect(listed).not.toContain(ids.p2Own);
    expect((await m.request('GET', `/api/v1/key-managers/${ids.p2Own}`, undefined, owner)).status).toBe(403);
  });

  it("scopes reads: without key-manager:read anywhere a reader gets 403 naming it; with it at one project, that project's and System ones", async () => {
    // project-editor holds no key-manager:read: the list and a System key manager are refused, not answered empty.
    const editor = { token: tokens['project-editor'] };
    for (const path of ['/api/v1/key-managers', `/api/v1/key-managers/${ids.system}`, `/api/v1/key-managers/${ids.p1Own}`]) {
      const refused = await m.request('GET', path, undefined, editor);
      expect({ path, status: refused.status, body: refused.body }).toMatchObject({
        path,
        status: 403,
        body: { code: 'permission_denied', permission: 'key-manager:read', scope: { type: 'system', id: null } },
      });
    }
    // A custom role holding only key-manager:read, bound at p2.
    const reader = (await m.request('POST', '/api/v1/roles', { name: `km-reader-${s}`, permissions: ['key-manager:read'] })).body;
    const username = `kmreader${s}`;
    const user = (await m.request('POST', '/api/v1/users', { username, password: 'user-password-1' })).body;
    const bound = await m.request('POST', '/api/v1/role-bindings', { roleId: reader.id, subject: { type: 'user', id: user.id }, scope: { type: 'project', id: ids.p2 } });
    expect(bound.status).toBe(201);
    const token = (await m.request('POST', '/api/v1/auth/login', { username, password: 'user-password-1' }, { token: null })).body.token;
    const listed = await m.request('GET', '/api/v1/key-managers', undefined, { token });
    expect(listed.status).toBe(200);
    const seen = listed.body.map((k: any) => k.id);
    expect(seen).toEqual(expect.arrayContaining([ids.system, ids.p2Own]));
    expect(seen).not.toContain(ids.p1Own);
    expect(listed.body.every((k: any) => k.projectId === null || k.projectId === ids.p2)).toBe(true);
    expect((await m.request('GET', `/api/v1/key-managers/${ids.system}`, undefined, { token })).status).toBe(200);
    expect((await m.request('GET', `/api/v1/key-managers/${ids.p2Own}`, undefined, { token })).status).toBe(200);
    expect(await m.request('GET', `/api/v1/key-managers/${ids.p1Own}`, undefined, { token })).toMatchObject({
      status: 403,
      body: { permission: 'key-manager:read', scope: { type: 'project', id: ids.p1 } },
    });
  });

  it("lets a proxy name only existing key managers of its project or System, within the key manager's role list", async () => {
    expect((await proxyWith(ids.p1, [ids.system, ids.p1Own])).status).toBe(201);
    const foreign = await proxyWith(ids.p1, [ids.p2Own]);
    expect(foreign).toMatchObject({ status: 422, body: { code: 'key_manager_not_usable' } });
    expect((await proxyWith(ids.p1, ['00000000-0000-4000-8000-000000000000'])).body.code).toBe('key_manager_not_usable');

    const allowOwners = (await m.request('POST', '/api/v1/key-managers', external('allow', { roleList: { type: 'ALLOW', roles: ['project-owner'] } }))).body.id;
    const denyOwners = (await m.request('POST', '/api/v1/key-managers', external('deny', { roleList: { type: 'DENY', roles: ['project-owner'] } }))).body.id;
    expect((await proxyWith(ids.p1, [allowOwners], tokens['project-owner'])).status).toBe(201);
    expect(await proxyWith(ids.p1, [allowOwners], tokens['project-editor'])).toMatchObject({ status: 403, body: { code: 'key_manager_denied', keyManager: allowOwners } });
    expect(await proxyWith(ids.p1, [denyOwners], tokens['project-owner'])).toMatchObject({ status: 403, body: { code: 'key_manager_denied' } });
    expect((await proxyWith(ids.p1, [denyOwners], tokens['project-editor'])).status).toBe(201);
  });

  it('takes timing settings (defaults, bounds, cross-field rules) and publishes them to the Gateways', async () => {
    const created = await m.request('POST', '/api/v1/key-managers', external('timed', { timing: { unknownKidIntervalSeconds: 5, timeoutMs: 2000, jwksMaxTtlSeconds: 3600 } }));
    expect(created.status).toBe(201);
    expect(created.body.timing).toEqual({
      timeoutMs: 2000,
      maxResponseBytes: 262144,
      jwksMinTtlSeconds: 60,
      jwksMaxTtlSeconds: 3600,
      jwksDefaultTtlSeconds: 600,
      refreshAheadPercent: 20,
      unknownKidIntervalSeconds: 5,
      retryAfterErrorSeconds: 5,
      introspectionMaxTtlSeconds: 300,
      introspectionNegativeTtlSeconds: 10,
    });
    const snapshot = await eventually(
      () => f.published(),
      (sn) => sn?.keyManagers.find((k) => k.id === created.body.id)?.timing?.unknownKidIntervalSeconds === 5,
      { what: 'the timing to be published' },
    );
    expect(snapshot!.keyManagers.find((k) => k.id === created.body.id)!.timing).toEqual(created.body.timing);
    const updated = await m.request('PATCH', `/api/v1/key-managers/${created.body.id}`, { timing: { ...created.body.timing, introspectionNegativeTtlSeconds: 0 } });
    expect(updated.body.timing.introspectionNegativeTtlSeconds).toBe(0);
    for (const [timing, path] of [
      [{ jwksMinTtlSeconds: 600, jwksMaxTtlSeconds: 300, jwksDefaultTtlSeconds: 300 }, 'timing.jwksMinTtlSeconds'],
      [{ jwksDefaultTtlSeconds: 30 }, 'timing.jwksDefaultTtlSeconds'],
      [{ unknownKidIntervalSeconds: 0 }, 'timing.unknownKidIntervalSeconds'],
      [{ timeoutMs: 60_000 }, 'timing.timeoutMs'],
      [{ maxResponseBytes: 64 }, 'timing.maxResponseBytes'],
      [{ refreshAheadPercent: 100 }, 'timing.refreshAheadPercent'],
      [{ surprise: 1 }, 'timing.surprise'],
    ] as const) {
      const res = await m.request('POST', '/api/v1/key-managers', external('badtiming', { timing }));
      expect({ timing, status: res.status }).toEqual({ timing, status: 400 });
      expect(res.body.errors.map((e: any) => e.path)).toContain(path);
      expect((await m.request('PATCH', `/api/v1/key-managers/${created.body.id}`, { timing })).status).toBe(400);
    }
    expect((await m.request('GET', `/api/v1/key-managers/${created.body.id}`)).body.timing.introspectionNegativeTtlSeconds).toBe(0);
    await m.request('DELETE', `/api/v1/key-managers/${created.body.id}`);
  });

  it('deletes a key manager (audited) and withdraws it from the published environment', async () => {
    expect((await m.request('DELETE', `/api/v1/key-managers/${ids.p2Own}`)).status).toBe(204);
    await eventually(
      () => f.published(),
      (sn) => sn !== null && !sn.keyManagers.some((k) => k.id === ids.p2Own),
      { what: 'the key manager to be withdrawn' },
    );
    expect((await m.request('GET', `/api/v1/key-managers/${ids.p2Own}`)).status).toBe(404);
  });
});
