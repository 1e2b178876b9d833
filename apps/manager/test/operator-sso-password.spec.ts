import { randomBytes, randomInt } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { freePort, LDAP_GROUPS, LDAP_PEOPLE, LDAP_SEED, SLAPD_ADMIN_DN, SlapdProcess, TestPki } from '@idm/test-kit';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const SVC_PASSWORD = 'svc-pass'; // the seeded directory's service account

/**
 * Operator single sign-on with a password (issue #16): a System LDAP source enabled for operator
 * login against a real slapd. A directory user logs in at POST /auth/login and becomes a Manager
 * user keyed by source and subject with the bindings its groups map to; a re-login follows the
 * directory (a group left loses its binding); local accounts and the bootstrap admin are never
 * answered by the directory; a directory that is down is a 503 with the source's code; lockouts
 * count directory guesses too; and saving a mapping is held to scope, existence and escalation rules.
 */
describe('operator SSO with a password: LDAP (slapd)', () => {
  const s = randomBytes(3).toString('hex');
  const sourceName = `corp-${s}`;
  let database: TestDatabase;
  let m: InProcessManager;
  let slapd: SlapdProcess;
  let projectId: string;
  let sourceId: string;
  let source: Record<string, any>;
  const address = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
  const login = (username: string, password: string, remoteAddress = address()) => m.request('POST', '/api/v1/auth/login', { username, password }, { token: null, remoteAddress });
  const bindingsOf = async (userId: string) => {
    const roles = new Map(((await m.request('GET', '/api/v1/roles')).body as any[]).map((r) => [r.id, r.name]));
    return ((await m.request('GET', '/api/v1/role-bindings')).body as any[])
      .filter((b) => b.subject.id === userId)
      .map((b) => `${roles.get(b.roleId)}@${b.scope.type}${b.scope.id ? `:${b.scope.id}` : ''}`)
      .sort();
  };
  /** Changes the directory as its admin with ldap-utils' ldapmodify (what SlapdProcess seeds it with). */
  const modifyDirectory = (ldif: string) => {
    const run = spawnSync('ldapmodify', ['-x', '-H', slapd.ldapUrl, '-D', SLAPD_ADMIN_DN, '-w', slapd.adminPassword], { input: ldif, encoding: 'utf8', timeout: 30_000 });
    if (run.status !== 0) throw new Error(`ldapmodify failed: ${run.stderr}`);
  };

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP test CA', ca: true });
    // A directory user called like the bootstrap admin: its password must never open the admin's account.
    const seed = `${LDAP_SEED}\ndn: uid=${ADMIN.username},${LDAP_PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${ADMIN.username}\ncn: Impostor\nsn: Impostor\nuserPassword: dir-admin-pass\n`;
    slapd = await SlapdProcess.start({ tls: await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' }), seed });
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    projectId = (await m.request('POST', '/api/v1/projects', { name: `ssoproj-${s}` })).body.id;
    source = {
      name: sourceName,
      type: 'ldap',
      config: { url: slapd.ldapUrl, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE } },
      secret: SVC_PASSWORD,
      operatorLogin: {
        enabled: true,
        groupBindings: [
          { group: 'admins', role: 'project-viewer', scope: 'system' },
          { group: 'staff', role: 'project-editor', scope: `project:${projectId}` },
        ],
      },
    };
    const created = await m.request('POST', '/api/v1/identity-sources', source);
    expect(created.status).toBe(201);
    sourceId = created.body.id;
  }, 300_000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
    await slapd?.destroy();
  });

  it('saves the mapping (answered, audited) and refuses a project source, unknown roles or scopes, and a mapping the saver could not grant', async () => {
    const got = await m.request('GET', `/api/v1/identity-sources/${sourceId}`);
    expect(got.body.operatorLogin).toEqual(source.operatorLogin);
    const audit = (await m.request('GET', `/api/v1/audit?entityId=${sourceId}`)).body.items;
    expect(audit[0].action).toBe('identity_source.create');
    expect(JSON.stringify(audit[0])).not.toContain(SVC_PASSWORD);

    const projectSource = await m.request('POST', '/api/v1/identity-sources', { ...source, name: `proj-${s}`, projectId });
    expect(projectSource).toMatchObject({ status: 422, body: { code: 'operator_login_not_system' } });
    const unknownRole = await m.request('POST', '/api/v1/identity-sources', {
      ...source,
      name: `bad-${s}`,
      operatorLogin: { enabled: true, groupBindings: [{ group: 'x', role: 'no-such-role', scope: 'system' }] },
    });
    expect(unknownRole).toMatchObject({ status: 422, body: { code: 'operator_binding_invalid', errors: [{ path: 'operatorLogin.groupBindings.0' }] } });
    const unknownProject = await m.request('PATCH', `/api/v1/identity-sources/${sourceId}`, {
      operatorLogin: { enabled: true, groupBindings: [{ group: 'x', role: 'project-viewer', scope: `project:${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}` }] },
    });
    expect(unknownProject).toMatchObject({ status: 422, body: { code: 'operator_binding_invalid' } });
    const badScope = await m.request('PATCH', `/api/v1/identity-sources/${sourceId}`, {
      operatorLogin: { enabled: true, groupBindings: [{ group: 'x', role: 'project-viewer', scope: "project:1' OR 1=1" }] },
    });
    expect(badScope.status).toBe(400);
    expect((await m.request('GET', `/api/v1/identity-sources/${sourceId}`)).body.operatorLogin).toEqual(source.operatorLogin); // nothing half-written

    // Someone who may edit System sources but not grant roles cannot grant system-admin through a directory group.
    const role = (await m.request('POST', '/api/v1/roles', { name: `src-editor-${s}`, permissions: ['identity-source:read', 'identity-source:write'] })).body;
    const user = (await m.request('POST', '/api/v1/users', { username: `srcedit${s}`, password: 'user-password-1' })).body;
    await m.request('POST', '/api/v1/role-bindings', { roleId: role.id, subject: { type: 'user', id: user.id }, scope: { type: 'system' } });
    const token = (await login(`srcedit${s}`, 'user-password-1')).body.token;
    const escalation = await m.request(
      'PATCH',
      `/api/v1/identity-sources/${sourceId}`,
      { operatorLogin: { enabled: true, groupBindings: [{ group: 'staff', role: 'system-admin', scope: 'system' }] } },
      { token },
    );
    expect(escalation.status).toBe(403);
    expect(escalation.body.code).toMatch(/permission_denied|escalation_denied/);
  });

  it('a directory user logs in, becomes a Manager user of the source with its mapped bindings, and acts with them', async () => {
    const first = await login('alice', 'alice-pass');
    expect(first.status).toBe(200);
    const users = (await m.request('GET', '/api/v1/users')).body as any[];
    const alice = users.find((u) => u.username === `${sourceName}:alice`);
    expect(alice).toBeDefined();
    expect(await bindingsOf(alice.id)).toEqual([`project-editor@project:${projectId}`, 'project-viewer@system'].sort());
    // The session is a real operator session with those rights: reading works, System writes do not.
    expect((await m.request('GET', `/api/v1/projects/${projectId}`, undefined, { token: first.body.token })).status).toBe(200);
    expect((await m.request('POST', '/api/v1/projects', { name: `nope-${s}` }, { token: first.body.token })).status).toBe(403);
    const audit = (await m.request('GET', `/api/v1/audit?entityId=${alice.id}&entityKind=user`)).body.items;
    expect(audit.map((e: any) => e.action)).toContain('user.create');

    // A second login is the same user, not a second one.
    expect((await login('alice', 'alice-pass')).status).toBe(200);
    expect(((await m.request('GET', '/api/v1/users')).body as any[]).filter((u) => u.username === `${sourceName}:alice`)).toHaveLength(1);
  });

  it('a re-login follows the directory: a group left loses its binding', async () => {
    modifyDirectory(`dn: cn=staff,${LDAP_GROUPS}\nchangetype: modify\ndelete: member\nmember: uid=alice,${LDAP_PEOPLE}\n`);
    expect((await login('alice', 'alice-pass')).status).toBe(200);
    const alice = ((await m.request('GET', '/api/v1/users')).body as any[]).find((u) => u.username === `${sourceName}:alice`);
    expect(await bindingsOf(alice.id)).toEqual(['project-viewer@system']);
    const audit = (await m.request('GET', `/api/v1/audit?entityId=${alice.id}&entityKind=user`)).body.items;
    expect(audit.map((e: any) => e.action)).toContain('user.update');
  });

  it('local accounts and the bootstrap admin are never answered by the directory', async () => {
    // The directory's "admin" with its own password: refused; the real admin still logs in.
    expect((await login(ADMIN.username, 'dir-admin-pass')).status).toBe(401);
    expect((await login(ADMIN.username, ADMIN.password)).status).toBe(200);
    // A local "bob": the directory's bob-pass does not open it, the local password does.
    await m.request('POST', '/api/v1/users', { username: 'bob', password: 'local-bob-password' });
    expect((await login('bob', 'bob-pass')).status).toBe(401);
    expect((await login('bob', 'local-bob-password')).status).toBe(200);
    // The federated user's name is no local login either.
    expect((await login(`${sourceName}:alice`, 'alice-pass')).status).toBe(401);
    expect((await login('alice', 'wrong-password')).status).toBe(401);
    // LDAP filter injection finds nobody.
    expect((await login('*', 'alice-pass')).status).toBe(401);
    expect((await login('alice)(uid=*', 'alice-pass')).status).toBe(401);
  });

  it('lockouts count directory guesses: after 10 failures even the right password waits', async () => {
    const from = address();
    for (let i = 0; i < 10; i++) expect((await login('svc', `wrong-${i}`, from)).status).toBe(401);
    const locked = await login('svc', SVC_PASSWORD, from);
    expect(locked).toMatchObject({ status: 429, body: { code: 'too_many_login_attempts' } });
  });

  it('a directory that is down is a 503 with the source code, never a login; local logins go on', async () => {
    const dead = `ldap://127.0.0.1:${await freePort()}`;
    expect((await m.request('PATCH', `/api/v1/identity-sources/${sourceId}`, { config: { ...source.config, url: dead } })).status).toBe(200);
    const down = await login('alice', 'alice-pass');
    expect(down).toMatchObject({ status: 503, body: { code: 'source_unavailable' } });
    expect(JSON.stringify(down.body)).not.toContain(SVC_PASSWORD);
    expect((await login(ADMIN.username, ADMIN.password)).status).toBe(200);
    // Disabled for operators: the directory is not asked at all (401, not 503).
    await m.request('PATCH', `/api/v1/identity-sources/${sourceId}`, { operatorLogin: { ...source.operatorLogin, enabled: false } });
    expect((await login('alice', 'alice-pass')).status).toBe(401);
  });

  it('deleting the source removes its operators and their bindings', async () => {
    const alice = ((await m.request('GET', '/api/v1/users')).body as any[]).find((u) => u.username === `${sourceName}:alice`);
    expect((await m.request('DELETE', `/api/v1/identity-sources/${sourceId}`)).status).toBe(204);
    expect(((await m.request('GET', '/api/v1/users')).body as any[]).some((u) => u.id === alice.id)).toBe(false);
    expect(await bindingsOf(alice.id)).toEqual([]);
  });
});
