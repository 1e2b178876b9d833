import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { freePort, LDAP_PEOPLE, LDAP_SEED, RestLoginServer, SlapdProcess, TestPki } from '@idm/test-kit';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const SVC_PASSWORD = 'svc-pass'; // the seeded directory's service account
const DB_PASSWORD = `db-${randomBytes(8).toString('hex')}`;
const API_KEY = `key-${randomBytes(8).toString('hex')}`;

/**
 * "Test connection / test login" of identity sources from the Manager (in-process, its own
 * PostgreSQL database) against real servers: slapd over ldaps with the sealed service-account
 * password, the machine's MariaDB with a user of its own, and a REST login endpoint with an API
 * key. Each answers ok or a reason code, never a 500 and never the secret or the password; the
 * Manager does not connect to an address the upstream policy forbids; the 403 names the permission.
 */
describe('identity sources: test connection and test login (Manager, slapd, MariaDB, REST)', () => {
  const s = randomBytes(3).toString('hex');
  const sqlDatabase = `idm_fedtest_${s}`;
  const sqlUser = `idm_fedtest_${s}`;
  let database: TestDatabase;
  let m: InProcessManager;
  let slapd: SlapdProcess;
  let rest: RestLoginServer;
  let caPem: string;
  const ids: Record<string, string> = {};
  let editorToken: string;

  const create = async (body: Record<string, unknown>): Promise<string> => {
    const res = await m.request('POST', '/api/v1/identity-sources', { ...body, name: `${body.name as string}-${s}` });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const test = (id: string, body: Record<string, unknown> = {}, token?: string) =>
    m.request('POST', `/api/v1/identity-sources/${id}/test`, body, token === undefined ? {} : { token });
  const neverLeaks = (res: { body: unknown }) => {
    const text = JSON.stringify(res.body);
    for (const secret of [SVC_PASSWORD, DB_PASSWORD, API_KEY, 'alice-pass', 'carol-pass', 'erin-pass']) expect(text).not.toContain(secret);
  };

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP test CA', ca: true });
    caPem = ca.cert;
    slapd = await SlapdProcess.start({ tls: await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' }), seed: LDAP_SEED });
    rest = await RestLoginServer.start({ apiKey: API_KEY });

    const root = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
    await root.query(`CREATE DATABASE ${sqlDatabase}`);
    await root.query(`CREATE USER '${sqlUser}'@'%' IDENTIFIED BY '${DB_PASSWORD}'`);
    await root.query(`GRANT SELECT ON ${sqlDatabase}.* TO '${sqlUser}'@'%'`);
    await root.changeUser({ database: sqlDatabase });
    await root.query('CREATE TABLE members (login varchar(64) PRIMARY KEY, pw text NOT NULL, email text, display_name text, `groups` text)');
    await root.execute('INSERT INTO members VALUES (?, ?, ?, ?, ?)', ['carol', await bcrypt.hash('carol-pass', 8), 'carol@example.org', 'Carol', 'buyers']);
    await root.end();

    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    const project = (await m.request('POST', '/api/v1/projects', { name: `fedtest-${s}` })).body;
    const roles: { name: string; id: string }[] = (await m.request('GET', '/api/v1/roles')).body;
    const user = (await m.request('POST', '/api/v1/users', { username: `editor${s}`, password: 'user-password-1' })).body;
    await m.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r) => r.name === 'project-editor')!.id,
      subject: { type: 'user', id: user.id },
      scope: { type: 'project', id: project.id },
    });
    editorToken = (await m.request('POST', '/api/v1/auth/login', { username: `editor${s}`, password: 'user-password-1' }, { token: null })).body.token;

    ids.ldap = await create({
      name: 'corp',
      type: 'ldap',
      projectId: project.id,
      config: { url: slapd.ldapsUrl, caPem, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE } },
      secret: SVC_PASSWORD,
      roleMappings: { admins: ['admin'], staff: ['reader'] },
    });
    const sqlConfig = {
      driver: 'mysql',
      host: '127.0.0.1',
      port: 3306,
      database: sqlDatabase,
      user: sqlUser,
      query: 'SELECT pw AS password, email, display_name, `groups` FROM members WHERE login = :username',
      passwordFormat: 'bcrypt',
    };
    ids.sql = await create({ name: 'shop', type: 'sql', config: sqlConfig, secret: DB_PASSWORD, roleMappings: { buyers: ['buyer'] } });
    ids.sqlBadSecret = await create({ name: 'shop-bad', type: 'sql', config: sqlConfig, secret: 'not-the-password' });
    const restConfig = (path: string) => ({
      url: `${rest.url}${path}`,
      secretHeader: { name: 'Authorization' },
      attributes: { email: '/user/email', displayName: '/user/name', groups: '/user/groups' },
    });
    ids.rest = await create({ name: 'api', type: 'rest', config: restConfig('/login'), secret: API_KEY, roleMappings: { admins: ['admin'] } });
    ids.restRedirect = await create({ name: 'api-redirect', type: 'rest', config: restConfig('/redirect'), secret: API_KEY });
    ids.restOpen = await create({ name: 'api-open', type: 'rest', config: restConfig('/soft-login'), secret: API_KEY });
    ids.restSlow = await create({ name: 'api-slow', type: 'rest', config: restConfig('/slow'), secret: API_KEY, timeoutMs: 300 });
    ids.down = await create({
      name: 'down',
      type: 'ldap',
      config: { url: `ldap://127.0.0.1:${await freePort()}`, bind: { mode: 'direct', dnTemplate: `uid={username},${LDAP_PEOPLE}` } },
    });
  }, 300_000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
    await rest?.close();
    await slapd?.destroy();
    const root = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
    await root.query(`DROP DATABASE IF EXISTS ${sqlDatabase}`);
    await root.query(`DROP USER IF EXISTS '${sqlUser}'@'%'`);
    await root.end();
  });

  it('LDAP: the service account binds and searches (reachable), a test login maps groups to roles, a wrong password is rejected', async () => {
    const connection = await test(ids.ldap!);
    expect(connection).toMatchObject({ status: 200, body: { ok: true, step: 'connection', outcome: 'reachable', code: null, identity: null } });
    const login = await test(ids.ldap!, { username: 'alice', password: 'alice-pass' });
    expect(login).toMatchObject({
      status: 200,
      body: {
        ok: true,
        step: 'login',
        outcome: 'verified',
        identity: { username: 'alice', displayName: 'Alice Liddell', groups: ['admins', 'staff'], roles: ['admin', 'reader'] },
      },
    });
    const wrong = await test(ids.ldap!, { username: 'alice', password: 'not-alice' });
    expect(wrong).toMatchObject({ status: 200, body: { ok: false, outcome: 'rejected', code: null } });
    [connection, login, wrong].forEach(neverLeaks);
  });

  it('LDAP: a source stored before the directory settings of #16 (no pageSize, referrals, pool in its config) still tests and logs in with their defaults', async () => {
    const id = await create({
      name: 'corp-old',
      type: 'ldap',
      config: { url: slapd.ldapsUrl, caPem, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE } },
      secret: SVC_PASSWORD,
    });
    const pg = new Client({ connectionString: database.url });
    await pg.connect();
    try {
      await pg.query(`UPDATE identity_sources SET config = config - 'pageSize' - 'referrals' - 'pool' WHERE id = $1`, [id]);
      expect(Object.keys((await pg.query('SELECT config FROM identity_sources WHERE id = $1', [id])).rows[0].config)).not.toContain('pool');
    } finally {
      await pg.end();
    }
    expect(await test(id)).toMatchObject({ status: 200, body: { ok: true, outcome: 'reachable' } });
    expect(await test(id, { username: 'bob', password: 'bob-pass' })).toMatchObject({ status: 200, body: { ok: true, outcome: 'verified' } });
  });

  it('SQL (MariaDB): connects and runs the query; a wrong database password is a reason code, not a 500, without the password', async () => {
    expect(await test(ids.sql!)).toMatchObject({ status: 200, body: { ok: true, outcome: 'reachable' } });
    expect(await test(ids.sql!, { username: 'carol', password: 'carol-pass' })).toMatchObject({
      status: 200,
      body: { ok: true, outcome: 'verified', identity: { email: 'carol@example.org', groups: ['buyers'], roles: ['buyer'] } },
    });
    const denied = await test(ids.sqlBadSecret!);
    expect(denied).toMatchObject({ status: 200, body: { ok: false, outcome: 'unavailable', code: 'source_unavailable', detail: expect.stringContaining('Access denied') } });
    expect(JSON.stringify(denied.body)).not.toContain('not-the-password');
    neverLeaks(denied);
  });

  it('REST: sends the API key (reachable), verifies a test login; a redirect, a hung endpoint and one that is down fail closed with their code', async () => {
    const before = rest.requests.length;
    expect(await test(ids.rest!)).toMatchObject({ status: 200, body: { ok: true, outcome: 'reachable' } });
    expect(rest.requests.slice(before).map((r) => r.headers.authorization)).toEqual([`Bearer ${API_KEY}`]);
    const login = await test(ids.rest!, { username: 'erin', password: 'erin-pass' });
    expect(login).toMatchObject({ body: { ok: true, outcome: 'verified', identity: { email: 'erin@example.test', roles: ['admin'] } } });
    const redirect = await test(ids.restRedirect!);
    expect(redirect).toMatchObject({ status: 200, body: { ok: false, outcome: 'unavailable', code: 'source_unavailable', detail: expect.stringContaining('302') } });
    expect(await test(ids.restSlow!)).toMatchObject({ status: 200, body: { ok: false, code: 'source_timeout' } });
    expect(await test(ids.down!)).toMatchObject({ status: 200, body: { ok: false, outcome: 'unavailable', code: 'source_unavailable' } });
    [login, redirect].forEach(neverLeaks);
  });

  it('flags a source that verifies a random username and password (it would let anyone in)', async () => {
    // /soft-login answers 200 to anyone and this source has no success condition.
    expect(await test(ids.restOpen!)).toMatchObject({ status: 200, body: { ok: false, outcome: 'verified', code: 'source_accepts_anyone' } });
  });

  it('does not connect to an address the upstream policy forbids (a source re-pointed after it was saved): 422 upstream_forbidden', async () => {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(`UPDATE identity_sources SET config = jsonb_set(config, '{url}', '"http://169.254.169.254/latest/meta-data"') WHERE id = $1`, [ids.restOpen]);
    } finally {
      await client.end();
    }
    const before = rest.requests.length;
    expect(await test(ids.restOpen!)).toMatchObject({ status: 422, body: { code: 'upstream_forbidden', errors: [{ path: 'config.url' }] } });
    expect(rest.requests.length).toBe(before);
  });

  it('refuses bad input (400), an unknown source (404), and a caller without identity-source:write (403 naming it)', async () => {
    const half = await test(ids.ldap!, { username: 'alice' });
    expect(half).toMatchObject({ status: 400, headers: { 'content-type': expect.stringContaining('application/problem+json') } });
    expect(half.body.errors.map((e: { path: string }) => e.path)).toContain('password');
    expect((await test(ids.ldap!, { username: 'alice', password: 'alice-pass', extra: 1 })).status).toBe(400);
    expect((await test('00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await test('not-a-uuid')).status).toBe(400);
    const forbidden = await test(ids.ldap!, { username: 'alice', password: 'alice-pass' }, editorToken);
    expect(forbidden).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'identity-source:write' } });
  });
});
