import { eventually } from '@idm/test-kit';
import { randomBytes } from 'node:crypto';
import { startAdminFixture, type AdminFixture } from './support/admin-fixture';
import type { InProcessManager } from './support/in-process-manager';

const BIND_PASSWORD = `svc-bind-${randomBytes(12).toString('hex')}`;

/**
 * Identity sources through the admin API (in-process Manager, PGlite, real Redis): validation
 * of both types, System vs Project scope with the permission named in a 403, the secret sealed
 * (never answered, masked in the audit, sealed in the published environment), publication and
 * withdrawal.
 */
describe('identity sources (admin API)', () => {
  const s = randomBytes(3).toString('hex');
  let f: AdminFixture;
  let m: InProcessManager;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const ldap = (name: string, extra: Record<string, unknown> = {}) => ({
    name: `${name}-${s}`,
    type: 'ldap',
    config: { url: 'ldaps://ldap.example.org:636', bind: { mode: 'search', bindDn: 'cn=svc,dc=example,dc=org', baseDn: 'ou=people,dc=example,dc=org' } },
    secret: BIND_PASSWORD,
    roleMappings: { admins: ['admin'] },
    ...extra,
  });
  const sql = (name: string, extra: Record<string, unknown> = {}) => ({
    name: `${name}-${s}`,
    type: 'sql',
    config: {
      driver: 'mysql',
      host: 'db.example.org',
      port: 3306,
      database: 'legacy',
      user: 'reader',
      query: 'SELECT pw AS password FROM users WHERE login = :username',
      passwordFormat: 'bcrypt',
    },
    ...extra,
  });

  const rest = (name: string, extra: Record<string, unknown> = {}) => ({
    name: `${name}-${s}`,
    type: 'rest',
    config: { url: 'https://auth.example.org/api/login', secretHeader: { name: 'X-Api-Key', prefix: '' }, success: { pointer: '/ok', equals: true } },
    secret: BIND_PASSWORD,
    ...extra,
  });

  beforeAll(async () => {
    f = await startAdminFixture('ids', s, ['project-owner', 'project-editor']);
    m = f.m;
    Object.assign(ids, { p1: f.p1, p2: f.p2 });
    Object.assign(tokens, f.tokens);
  }, 300_000);

  afterAll(() => f?.close());

  it('creates a System LDAP source: the secret sealed, never answered, masked in the audit, published to every environment', async () => {
    const created = await m.request('POST', '/api/v1/identity-sources', ldap('corp'));
    expect(created.status).toBe(201);
    ids.system = created.body.id;
    expect(created.body).toMatchObject({
      projectId: null,
      type: 'ldap',
      hasSecret: true,
      timeoutMs: 5000,
      cacheTtlSeconds: 60,
      config: { startTls: false, bind: { usernameAttribute: 'uid', userObjectClass: 'inetOrgPerson' }, groups: { mode: 'memberOf' } },
    });
    expect(JSON.stringify(created.body)).not.toContain(BIND_PASSWORD);
    expect((await m.request('GET', `/api/v1/identity-sources/${ids.system}`)).body).toEqual(created.body);

    const snapshot = await eventually(
      () => f.published(),
      (sn) => sn?.identitySources.some((k) => k.id === ids.system) === true,
      { what: 'the identity source to be published' },
    );
    const published = snapshot!.identitySources.find((k) => k.id === ids.system)!;
    expect(published).toMatchObject({ name: `corp-${s}`, type: 'ldap', roleMappings: { admins: ['admin'] } });
    expect(published.secret).toMatch(/^enc:v1:m1:/);
    expect(f.box.open(published.secret!)).toBe(BIND_PASSWORD);

    const audit = (await m.request('GET', '/api/v1/audit?limit=50')).body;
    const event = audit.items.find((e: any) => e.entity.kind === 'identity_source' && e.entity.id === ids.system);
    expect(event).toMatchObject({ action: 'identity_source.create' });
    expect(JSON.stringify(event)).not.toContain(BIND_PASSWORD);
    expect(event.diff.secret).toEqual({ changed: true, secret: true });

    const changed = await m.request('PATCH', `/api/v1/identity-sources/${ids.system}`, { secret: `${BIND_PASSWORD}-2`, cacheTtlSeconds: 0 });
    expect(changed).toMatchObject({ status: 200, body: { cacheTtlSeconds: 0, hasSecret: true } });
    const update = (await m.request('GET', '/api/v1/audit?limit=50')).body.items.find((e: any) => e.entity.kind === 'identity_source' && e.action === 'identity_source.update');
    expect(update.diff).toMatchObject({ secret: { changed: true, secret: true }, cacheTtlSeconds: { old: 60, new: 0 } });
    expect(JSON.stringify(update)).not.toContain(BIND_PASSWORD);
  });

  it('creates a project SQL source and replaces its config as a whole', async () => {
    const created = await m.request('POST', '/api/v1/identity-sources', sql('legacy', { projectId: ids.p1 }));
    expect(created).toMatchObject({
      status: 201,
      body: { type: 'sql', projectId: ids.p1, hasSecret: false, config: { saltPosition: 'prefix', columns: { password: 'password' } } },
    });
    ids.p1Sql = created.body.id;
    const patched = await m.request('PATCH', `/api/v1/identity-sources/${ids.p1Sql}`, { config: { ...sql('x').config, driver: 'postgres', port: 5432, passwordFormat: 'argon2' } });
    expect(patched).toMatchObject({ status: 200, body: { config: { driver: 'postgres', passwordFormat: 'argon2' } } });
  });

  it('creates a project REST source: defaults filled in, the API key sealed and never answered', async () => {
    const created = await m.request('POST', '/api/v1/identity-sources', rest('api', { projectId: ids.p1 }));
    expect(created).toMatchObject({
      status: 201,
      body: { type: 'rest', hasSecret: true, config: { method: 'POST', encoding: 'json', usernameField: 'username', successStatuses: [200], rejectStatuses: [401, 403] } },
    });
    expect(JSON.stringify(created.body)).not.toContain(BIND_PASSWORD);
    const patched = await m.request('PATCH', `/api/v1/identity-sources/${created.body.id}`, { config: { ...rest('x').config, encoding: 'form' } });
    expect(patched).toMatchObject({ status: 200, body: { config: { encoding: 'form' } } });
  });

  it('refuses what cannot be a safe identity source, with the field and a reason, and writes nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [ldap('url', { config: { ...ldap('x').config, url: 'http://ldap.example.org' } }), 'config.url'],
      [ldap('tpl', { config: { ...ldap('x').config, bind: { mode: 'direct', dnTemplate: 'uid=alice,dc=example,dc=org' } } }), 'config.bind.dnTemplate'],
      [ldap('attr', { config: { ...ldap('x').config, attributes: { username: 'uid)(x' } } }), 'config.attributes.username'],
      [sql('delete', { config: { ...sql('x').config, query: 'DELETE FROM users WHERE login = :username' } }), 'config.query'],
      [sql('concat', { config: { ...sql('x').config, query: "SELECT pw FROM users WHERE login = ':username'; DROP TABLE users" } }), 'config.query'],
      [sql('param', { config: { ...sql('x').config, query: 'SELECT pw FROM users WHERE login = :username AND t = :tenant' } }), 'config.query'],
      [sql('format', { config: { ...sql('x').config, passwordFormat: 'md5' } }), 'config.passwordFormat'],
      [ldap('timeout', { timeoutMs: 0 }), 'timeoutMs'],
      [rest('scheme', { config: { ...rest('x').config, url: 'file:///etc/passwd' } }), 'config.url'],
      [rest('userinfo', { config: { ...rest('x').config, url: 'https://user:pw@auth.example.org/login' } }), 'config.url'],
      [rest('host', { config: { ...rest('x').config, headers: { Host: 'evil.example' } } }), 'config.headers.Host'],
      [rest('crlf', { config: { ...rest('x').config, headers: { 'X-Tenant': 'a\r\nX-Injected: 1' } } }), 'config.headers.X-Tenant'],
      [rest('pointer', { config: { ...rest('x').config, success: { pointer: 'ok', equals: true } } }), 'config.success.pointer'],
      [{ ...ldap('type'), type: 'kerberos' }, 'type'],
      [{ ...ldap('saml'), type: 'saml' }, 'config.idpEntityId'],
      [ldap('extra', { surprise: true }), 'surprise'],
      [ldap('BadName'), 'name'],
    ];
    for (const [body, path] of cases) {
      const res = await m.request('POST', '/api/v1/identity-sources', body);
      expect({ body, status: res.status, type: res.headers['content-type'] }).toMatchObject({ body, status: 400, type: expect.stringContaining('application/problem+json') });
      expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    }
    const before = (await m.request('GET', '/api/v1/identity-sources')).body.length;
    expect(await m.request('POST', '/api/v1/identity-sources', ldap('corp'))).toMatchObject({ status: 409, body: { code: 'identity_source_name_taken' } });
    // An ldap source takes no sql config.
    const wrongType = await m.request('PATCH', `/api/v1/identity-sources/${ids.system}`, { config: sql('x').config });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors.map((e: any) => e.path)).toContain('config.url');
    expect((await m.request('GET', '/api/v1/identity-sources')).body.length).toBe(before);
    expect((await m.request('GET', '/api/v1/identity-sources/not-a-uuid')).status).toBe(400);
    expect((await m.request('GET', '/api/v1/identity-sources/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('holds the LDAP, SQL and REST servers to the upstream address policy (422 upstream_forbidden naming the field), on create and update, writing nothing', async () => {
    const before = (await m.request('GET', '/api/v1/identity-sources')).body;
    const cases: [Record<string, unknown>, string, string][] = [
      [ldap('metadata', { config: { ...ldap('x').config, url: 'ldap://169.254.169.254' } }), 'config.url', 'internal_address'],
      [ldap('loopback6', { config: { ...ldap('x').config, url: 'ldaps://[::1]:636' } }), 'config.url', 'internal_address'],
      // A server referrals may lead to is connected to as well.
      [
        ldap('referral', { config: { ...ldap('x').config, referrals: { follow: true, allowedHosts: ['dc2.example.org:389', '169.254.169.254'] } } }),
        'config.referrals.allowedHosts.1',
        'internal_address',
      ],
      // 127.0.0.1 is allowed in this spec (UPSTREAM_ALLOW), the rest of 127/8 is not.
      [sql('loopback', { config: { ...sql('x').config, host: '127.0.0.2' } }), 'config.host', 'internal_address'],
      [rest('metadata', { config: { ...rest('x').config, url: 'http://169.254.169.254/latest/meta-data' } }), 'config.url', 'internal_address'],
    ];
    for (const [body, path, reason] of cases) {
      const res = await m.request('POST', '/api/v1/identity-sources', body);
      expect({ body, status: res.status, code: res.body.code, reason: res.body.reason }).toEqual({ body, status: 422, code: 'upstream_forbidden', reason });
      expect(res.body.errors.map((e: any) => e.path)).toEqual([path]);
    }
    const patched = await m.request('PATCH', `/api/v1/identity-sources/${ids.system}`, { config: { ...ldap('x').config, url: 'ldap://169.254.169.254:389' } });
    expect(patched).toMatchObject({ status: 422, body: { code: 'upstream_forbidden', errors: [{ path: 'config.url' }] } });
    expect((await m.request('GET', '/api/v1/identity-sources')).body).toEqual(before);
  });

  it('scopes writes: System ones need identity-source:write at System scope, a project one at its project; the 403 names the permission', async () => {
    const owner = { token: tokens['project-owner'] };
    const system = await m.request('POST', '/api/v1/identity-sources', ldap('owner-system'), owner);
    expect(system).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'identity-source:write', scope: { type: 'system', id: null } } });
    const own = await m.request('POST', '/api/v1/identity-sources', ldap('owner-own', { projectId: ids.p1 }), owner);
    expect(own.status).toBe(201);
    ids.p1Own = own.body.id;
    const elsewhere = await m.request('POST', '/api/v1/identity-sources', ldap('owner-other', { projectId: ids.p2 }), owner);
    expect(elsewhere).toMatchObject({ status: 403, body: { permission: 'identity-source:write', scope: { type: 'project', id: ids.p2 } } });
    const editor = await m.request('POST', '/api/v1/identity-sources', ldap('editor', { projectId: ids.p1 }), { token: tokens['project-editor'] });
    expect(editor).toMatchObject({ status: 403, body: { permission: 'identity-source:write' } });
    expect((await m.request('GET', '/api/v1/identity-sources', undefined, { token: tokens['project-editor'] })).body).toMatchObject({ permission: 'identity-source:read' });
    expect((await m.request('PATCH', `/api/v1/identity-sources/${ids.system}`, { enabled: false }, owner)).status).toBe(403);
    ids.p2Own = (await m.request('POST', '/api/v1/identity-sources', ldap('p2-own', { projectId: ids.p2 }))).body.id;
    const listed = (await m.request('GET', '/api/v1/identity-sources', undefined, owner)).body.map((k: any) => k.id);
    expect(listed).toEqual(expect.arrayContaining([ids.system, ids.p1Own, ids.p1Sql]));
    expect(listed).not.toContain(ids.p2Own);
    expect((await m.request('GET', `/api/v1/identity-sources/${ids.p2Own}`, undefined, owner)).status).toBe(403);
  });

  it('deletes an identity source (audited) and withdraws it from the published environment', async () => {
    expect((await m.request('DELETE', `/api/v1/identity-sources/${ids.p2Own}`)).status).toBe(204);
    await eventually(
      () => f.published(),
      (sn) => sn !== null && sn.identitySources.some((k) => k.id === ids.system) && !sn.identitySources.some((k) => k.id === ids.p2Own),
      { what: 'the identity source to be withdrawn' },
    );
    expect((await m.request('GET', `/api/v1/identity-sources/${ids.p2Own}`)).status).toBe(404);
    const audit = (await m.request('GET', '/api/v1/audit?limit=100')).body.items;
    expect(audit.find((e: any) => e.action === 'identity_source.delete' && e.entity.id === ids.p2Own)).toBeDefined();
  });
});
