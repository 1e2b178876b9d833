import { randomBytes, randomInt } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { freePort, LDAP_PEOPLE, LDAP_SEED, SLAPD_ADMIN_DN, SlapdProcess, TestPki } from '@idm/test-kit';
import { FederatedEndUsers } from '../src/end-users/federated-end-users.service';
import { IdentitySourceSyncScheduler } from '../src/identity-sources/source-sync.scheduler';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const SVC_PASSWORD = 'svc-pass'; // the seeded directory's service account
const DB_PASSWORD = `db-${randomBytes(8).toString('hex')}`;

/**
 * The periodic sync of identity sources (#16, "removal from the directory disables ... by an
 * optional periodic sync"), in-process against real servers: users tables in the machine's
 * PostgreSQL and MariaDB, and slapd. A user gone from the directory is disabled (end user) or
 * signed out with its bindings dropped (operator), audited as the system; nobody is re-enabled;
 * a directory that cannot answer disables nobody; one run per interval across Managers (a Redis
 * claim) and never two at once; sources that cannot be asked are refused at save with 422.
 */
describe('identity source sync', () => {
  const s = randomBytes(3).toString('hex');
  const sqlDatabase = `idm_fedsync_${s}`;
  let database: TestDatabase;
  let m: InProcessManager;
  let slapd: SlapdProcess;
  let redis: Redis;
  let projectId: string;

  const createSource = (body: Record<string, unknown>) => m.request('POST', '/api/v1/identity-sources', { ...body, name: `${body.name as string}-${s}` });
  const endUsers = async () => (await m.request('GET', `/api/v1/projects/${projectId}/users`)).body as Array<Record<string, any>>;
  const endUser = async (username: string) => (await endUsers()).find((u) => u.username === username);
  const provision = async (sourceId: string, username: string, project: string) => {
    const reply = await m.app.get(FederatedEndUsers).provision({ environment: 'x', projectId: project, sourceId, username, email: null, displayName: null, roles: [] });
    expect(reply.outcome).toBe('provisioned');
  };
  const syncNow = (id: string, token?: string) => m.request('POST', `/api/v1/identity-sources/${id}/sync`, undefined, token === undefined ? {} : { token });
  const directory = (tool: 'ldapadd' | 'ldapdelete' | 'ldapmodify', input: string) => {
    const run = spawnSync(tool, ['-x', '-H', slapd.ldapUrl, '-D', SLAPD_ADMIN_DN, '-w', slapd.adminPassword], { input, encoding: 'utf8', timeout: 30_000 });
    if (run.status !== 0) throw new Error(`${tool} failed: ${run.stderr}`);
  };
  const person = (uid: string) => `dn: uid=${uid},${LDAP_PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${uid}-pass\n`;
  const sqlAdmin = async (driver: 'postgres' | 'mysql', statement: string, values: string[]) => {
    if (driver === 'postgres') {
      const c = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: sqlDatabase });
      await c.connect();
      await c.query(statement.replace('?', '$1'), values);
      await c.end();
    } else {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: sqlDatabase });
      await c.execute(statement, values);
      await c.end();
    }
  };
  const deleteRow = (driver: 'postgres' | 'mysql', login: string) => sqlAdmin(driver, 'DELETE FROM app_users WHERE login = ?', [login]);
  const insertRow = (driver: 'postgres' | 'mysql', login: string) => sqlAdmin(driver, "INSERT INTO app_users (login, pw) VALUES (?, 'x')", [login]);
  const viewerToken = async (project: string) => {
    const roles: { name: string; id: string }[] = (await m.request('GET', '/api/v1/roles')).body;
    const name = `viewer${randomBytes(3).toString('hex')}`;
    const user = (await m.request('POST', '/api/v1/users', { username: name, password: 'user-password-1' })).body;
    await m.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r) => r.name === 'project-viewer')!.id,
      subject: { type: 'user', id: user.id },
      scope: { type: 'project', id: project },
    });
    return (await m.request('POST', '/api/v1/auth/login', { username: name, password: 'user-password-1' }, { token: null })).body.token as string;
  };
  const auditOf = async (entityId: string) => (await m.request('GET', `/api/v1/audit?entityId=${entityId}`)).body.items as Array<Record<string, any>>;

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP sync CA', ca: true });
    slapd = await SlapdProcess.start({ tls: await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' }), seed: LDAP_SEED });
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const pg = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await pg.connect();
    await pg.query(`CREATE DATABASE ${sqlDatabase}`);
    await pg.end();
    const pgUsers = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: sqlDatabase });
    await pgUsers.connect();
    await pgUsers.query('CREATE TABLE app_users (login text PRIMARY KEY, pw text NOT NULL, active boolean NOT NULL DEFAULT true)');
    await pgUsers.query("INSERT INTO app_users VALUES ('ann', 'x', true), ('ben', 'x', true), ('cat', 'x', false)");
    await pgUsers.end();
    const maria = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
    await maria.query(`CREATE DATABASE ${sqlDatabase}`);
    await maria.query(`CREATE USER '${sqlDatabase}'@'%' IDENTIFIED BY '${DB_PASSWORD}'`);
    await maria.query(`GRANT SELECT ON ${sqlDatabase}.* TO '${sqlDatabase}'@'%'`);
    await maria.changeUser({ database: sqlDatabase });
    await maria.query('CREATE TABLE app_users (login varchar(64) PRIMARY KEY, pw text NOT NULL)');
    await maria.query("INSERT INTO app_users VALUES ('ann', 'x'), ('ben', 'x'), ('cat', 'x')");
    await maria.end();
    // PGlite: the machine's PostgreSQL is then no installation endpoint, so a postgres source may point at it.
    database = await createTestDatabase('pglite');
    // Only the test's own calls run syncs (the scheduler's tick would race them).
    m = await startInProcessManager(database, { IDENTITY_SOURCE_SYNC_CHECK_SECONDS: '3600' });
    projectId = (await m.request('POST', '/api/v1/projects', { name: `fedsync-${s}` })).body.id;
  }, 300_000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
    await slapd?.destroy();
    const keys = await redis.keys(`idm:identity-source-sync:*`);
    // Only this run's sources' keys (their ids are in this database, now dropped): ours carry ids we created.
    for (const key of keys.filter((k) => created.some((id) => k.endsWith(id)))) await redis.del(key);
    redis.disconnect();
    const pg = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await pg.connect();
    await pg.query(`DROP DATABASE IF EXISTS ${sqlDatabase} WITH (FORCE)`);
    await pg.end();
    const maria = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
    await maria.query(`DROP DATABASE IF EXISTS ${sqlDatabase}`);
    await maria.query(`DROP USER IF EXISTS '${sqlDatabase}'@'%'`);
    await maria.end();
  });
  const created: string[] = [];
  const made = (res: { status: number; body: any }) => {
    expect(res.status).toBe(201);
    created.push(res.body.id);
    return res.body.id as string;
  };

  const sqlConfig = (driver: 'postgres' | 'mysql') => ({
    driver,
    host: '127.0.0.1',
    port: driver === 'postgres' ? 5432 : 3306,
    database: sqlDatabase,
    user: driver === 'postgres' ? 'postgres' : sqlDatabase,
    query: 'SELECT pw AS password FROM app_users WHERE login = :username',
    passwordFormat: 'plain',
  });
  const ldapConfig = () => ({ url: slapd.ldapUrl, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE } });

  it('refuses sync settings a source cannot honour with 422 and a reason, nothing written', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'r', type: 'rest', config: { url: 'http://127.0.0.1:9/login' }, sync: { enabled: true } }, 'sync_not_supported'],
      [{ name: 'o', type: 'oidc', config: { issuer: 'http://127.0.0.1:9', clientId: 'c' }, sync: { enabled: false } }, 'sync_not_supported'],
      [
        { name: 'd', type: 'ldap', config: { url: slapd.ldapUrl, bind: { mode: 'direct', dnTemplate: `uid={username},${LDAP_PEOPLE}` } }, sync: { enabled: true } },
        'sync_needs_search_bind',
      ],
      [{ name: 'q', type: 'sql', config: sqlConfig('postgres'), secret: 'x', sync: { enabled: true } }, 'sync_query_required'],
      [
        { name: 'l', type: 'ldap', config: ldapConfig(), secret: SVC_PASSWORD, sync: { enabled: true, lookupQuery: 'SELECT 1 FROM t WHERE u = :username' } },
        'sync_query_not_applicable',
      ],
    ];
    for (const [body, code] of cases) {
      const res = await createSource(body);
      expect({ name: body.name, status: res.status, code: res.body.code }).toEqual({ name: body.name, status: 422, code });
    }
    // Not a lookup query: statements, other parameters, an interval below five minutes.
    for (const sync of [
      { enabled: true, lookupQuery: 'SELECT 1 FROM app_users WHERE login = :username; DROP TABLE app_users' },
      { enabled: true, lookupQuery: 'DELETE FROM app_users WHERE login = :username' },
      { enabled: true, lookupQuery: 'SELECT 1 FROM app_users WHERE login = :username AND t = :tenant' },
      { enabled: true, intervalMinutes: 1, lookupQuery: 'SELECT 1 FROM app_users WHERE login = :username' },
    ]) {
      const res = await createSource({ name: 'bad', type: 'sql', config: sqlConfig('postgres'), secret: 'x', sync });
      expect(res.status).toBe(400);
    }
    expect(((await m.request('GET', '/api/v1/identity-sources')).body as any[]).map((x) => x.name)).toEqual([]);

    // A later switch to direct bind would leave the sync nothing to search with: refused, the source unchanged.
    const id = made(await createSource({ name: 'switch', type: 'ldap', config: ldapConfig(), secret: SVC_PASSWORD, roleMappings: { staff: ['reader'] }, sync: { enabled: true } }));
    const patched = await m.request('PATCH', `/api/v1/identity-sources/${id}`, {
      config: { url: slapd.ldapUrl, bind: { mode: 'direct', dnTemplate: `uid={username},${LDAP_PEOPLE}` } },
    });
    expect(patched).toMatchObject({ status: 422, body: { code: 'sync_needs_search_bind' } });
    expect((await m.request('GET', `/api/v1/identity-sources/${id}`)).body).toMatchObject({ config: { bind: { mode: 'search' } }, sync: { enabled: true, intervalMinutes: 60 } });
    // An update that leaves the role mapping out keeps it (it once reset it to {}).
    expect((await m.request('PATCH', `/api/v1/identity-sources/${id}`, { sync: null })).body).toMatchObject({ sync: null, roleMappings: { staff: ['reader'] } });
    expect(await syncNow(id)).toMatchObject({ status: 409, body: { code: 'sync_not_configured' } });
    await m.request('DELETE', `/api/v1/identity-sources/${id}`);
  });

  it('a run that finds more users gone than maxDisabledPerRun disables nobody: 409 sync_guard_tripped; with the limit raised it runs', async () => {
    const project = (await m.request('POST', '/api/v1/projects', { name: `fedsync-guard-${s}` })).body.id as string;
    const id = made(
      await createSource({
        name: 'guarded',
        type: 'sql',
        projectId: project,
        config: sqlConfig('postgres'),
        secret: DB_PASSWORD,
        // As a wrong lookup would: zed1 and zed2 have no row, ann has one.
        sync: { enabled: true, lookupQuery: 'SELECT 1 FROM app_users WHERE login = :username', maxDisabledPerRun: 1 },
      }),
    );
    for (const name of ['ann', 'zed1', 'zed2']) await provision(id, name, project);
    const enabled = async () => Object.fromEntries(((await m.request('GET', `/api/v1/projects/${project}/users`)).body as any[]).map((u) => [u.username, u.enabled]));
    const tripped = await syncNow(id);
    expect(tripped).toMatchObject({ status: 409, body: { code: 'sync_guard_tripped', detail: expect.stringContaining('2 users are no longer found') } });
    expect(await enabled()).toEqual({ ann: true, zed1: true, zed2: true });
    // The scheduled run is held back the same way.
    expect((await m.app.get(IdentitySourceSyncScheduler).runDue()).filter((r) => r.sourceId === id)).toEqual([]);
    expect(await enabled()).toEqual({ ann: true, zed1: true, zed2: true });
    const raised = await m.request('PATCH', `/api/v1/identity-sources/${id}`, {
      sync: { enabled: true, lookupQuery: 'SELECT 1 FROM app_users WHERE login = :username', maxDisabledPerRun: 2 },
    });
    expect(raised.status).toBe(200);
    expect(await syncNow(id)).toMatchObject({ status: 200, body: { disabled: { endUsers: [expect.anything(), expect.anything()] } } });
    expect(await enabled()).toEqual({ ann: true, zed1: false, zed2: false });
  });

  it.each(['postgres', 'mysql'] as const)('%s: the lookup query decides who is gone; those are disabled, audited as the system, and never re-enabled', async (driver) => {
    const project = (await m.request('POST', '/api/v1/projects', { name: `fedsync-${driver}-${s}` })).body.id as string;
    // PostgreSQL's query also requires the row to be active: cat's row is there but inactive.
    const lookupQuery = driver === 'postgres' ? 'SELECT 1 FROM app_users WHERE login = :username AND active' : 'SELECT 1 FROM app_users WHERE login = :username';
    const id = made(
      await createSource({
        name: `shop-${driver}`,
        type: 'sql',
        projectId: project,
        config: sqlConfig(driver),
        secret: DB_PASSWORD,
        sync: { enabled: true, intervalMinutes: 5, lookupQuery },
      }),
    );
    for (const name of ['ann', 'ben', 'cat', 'dan']) await provision(id, name, project);
    // A local user is none of the source's business, though no row names it.
    expect((await m.request('POST', `/api/v1/projects/${project}/users`, { username: 'eve', password: 'local-eve-password', email: 'eve@example.org' })).status).toBe(201);
    const users = async () => Object.fromEntries(((await m.request('GET', `/api/v1/projects/${project}/users`)).body as any[]).map((u) => [u.username, u.enabled]));
    await deleteRow(driver, 'ben');

    const scheduler = m.app.get(IdentitySourceSyncScheduler);
    const reports = (await scheduler.runDue()).filter((r) => r.sourceId === id);
    expect(reports).toHaveLength(1);
    const gone = driver === 'postgres' ? ['ben', 'cat', 'dan'] : ['ben', 'cat', 'dan'].filter((u) => u !== 'cat');
    expect(reports[0]!.checked).toEqual({ endUsers: 4, operators: 0 });
    expect(reports[0]!.disabled.endUsers.map((u) => u.username).sort()).toEqual(gone);
    expect(await users()).toEqual({ ann: true, ben: false, cat: driver === 'mysql', dan: false, eve: true });
    const ben = ((await m.request('GET', `/api/v1/projects/${project}/users`)).body as any[]).find((u) => u.username === 'ben');
    expect((await auditOf(ben.id))[0]).toMatchObject({
      action: 'end_user.update',
      actor: expect.objectContaining({ type: 'system', name: `identity-source-sync:shop-${driver}-${s}` }),
    });

    // The interval is claimed (in Redis, for every Manager): the next tick runs nothing for this source.
    expect((await scheduler.runDue()).filter((r) => r.sourceId === id)).toEqual([]);
    // ben is back in the table: a sync re-enables nobody (an operator does); "sync now" finds no one else gone.
    await insertRow(driver, 'ben');
    const again = await syncNow(id);
    expect(again).toMatchObject({ status: 200, body: { sourceId: id, checked: { endUsers: driver === 'mysql' ? 2 : 1 }, disabled: { endUsers: [], operators: [] } } });
    expect((await users()).ben).toBe(false);
    // The operator's run is audited once, with what it checked and disabled.
    expect((await auditOf(id))[0]).toMatchObject({ action: 'identity_source.sync', actor: expect.objectContaining({ type: 'user' }) });
  });

  it('a directory that cannot answer disables nobody: 503 with the source code; a run in progress elsewhere is 409', async () => {
    const project = (await m.request('POST', '/api/v1/projects', { name: `fedsync-down-${s}` })).body.id as string;
    const config = { ...sqlConfig('postgres'), port: await freePort() };
    const id = made(
      await createSource({
        name: 'down',
        type: 'sql',
        projectId: project,
        config,
        secret: 'unused',
        timeoutMs: 1000,
        sync: { enabled: false, lookupQuery: 'SELECT 1 FROM app_users WHERE login = :username' },
      }),
    );
    await provision(id, 'ann', project);
    const started = Date.now();
    const res = await syncNow(id);
    expect(res).toMatchObject({ status: 503, body: { code: 'source_unavailable' } });
    expect(res.headers['retry-after']).toBe('60');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(((await m.request('GET', `/api/v1/projects/${project}/users`)).body as any[])[0]).toMatchObject({ username: 'ann', enabled: true });
    // Another Manager's run holds the source: refused, not run twice at once.
    await redis.set(`idm:identity-source-sync:running:${id}`, 'another-manager', 'PX', 30_000);
    expect(await syncNow(id)).toMatchObject({ status: 409, body: { code: 'sync_in_progress' } });
    await redis.del(`idm:identity-source-sync:running:${id}`);
    // A viewer of the project cannot make the Manager connect out and disable users.
    const viewer = await viewerToken(project);
    expect(await syncNow(id, viewer)).toMatchObject({ status: 403, body: { detail: expect.stringContaining('identity-source:write') } });
    expect(await syncNow('00000000-0000-0000-0000-000000000000')).toMatchObject({ status: 404 });
  });

  it('LDAP: an end user and an operator removed from the directory (ldapdelete) are disabled and signed out; the others stay', async () => {
    directory('ldapadd', `${person('dave')}\n${person('fay')}`);
    const id = made(
      await createSource({
        name: 'corp',
        type: 'ldap',
        config: ldapConfig(),
        secret: SVC_PASSWORD,
        sync: { enabled: false },
        operatorLogin: { enabled: true, groupBindings: [{ group: 'staff', role: 'project-viewer', scope: 'system' }] },
      }),
    );
    await provision(id, 'alice', projectId);
    await provision(id, 'dave', projectId);
    // dave and fay are staff: they log in to the Manager as operators with a binding.
    directory('ldapmodify', `dn: cn=staff,ou=groups,dc=example,dc=org\nchangetype: modify\nadd: member\nmember: uid=dave,${LDAP_PEOPLE}\nmember: uid=fay,${LDAP_PEOPLE}\n`);
    const login = async (u: string) => {
      const res = await m.request(
        'POST',
        '/api/v1/auth/login',
        { username: u, password: `${u}-pass` },
        { token: null, remoteAddress: `10.9.${randomInt(256)}.${randomInt(1, 255)}` },
      );
      expect(res.status).toBe(200);
      return res.body.token as string;
    };
    const daveToken = await login('dave');
    const fayToken = await login('fay');
    const me = (token: string) => m.request('GET', '/api/v1/me/permissions', undefined, { token });
    expect((await me(daveToken)).status).toBe(200);

    directory('ldapdelete', `uid=dave,${LDAP_PEOPLE}\n`);
    const res = await syncNow(id);
    expect(res.status).toBe(200);
    expect(res.body.checked).toEqual({ endUsers: 2, operators: 2 });
    expect(res.body.disabled.endUsers.map((u: any) => u.username)).toEqual(['dave']);
    expect(res.body.disabled.operators.map((u: any) => u.username)).toEqual([`corp-${s}:dave`]);
    expect(await endUser('dave')).toMatchObject({ enabled: false });
    expect(await endUser('alice')).toMatchObject({ enabled: true });
    // dave's session is over and his bindings gone; fay is untouched.
    expect((await me(daveToken)).status).toBe(401);
    expect((await me(fayToken)).status).toBe(200);
    const daveOperator = res.body.disabled.operators[0].id as string;
    const bindings = ((await m.request('GET', '/api/v1/role-bindings')).body as any[]).filter((b) => b.subject.id === daveOperator);
    expect(bindings).toEqual([]);
    expect((await auditOf(daveOperator))[0]).toMatchObject({ action: 'user.update', actor: expect.objectContaining({ type: 'system', name: `identity-source-sync:corp-${s}` }) });
    // Nor can dave log in again: the directory no longer knows him.
    expect((await m.request('POST', '/api/v1/auth/login', { username: 'dave', password: 'dave-pass' }, { token: null, remoteAddress: '10.9.9.9' })).status).toBe(401);
    // A second run has nothing left to do, and writes nothing.
    const rerun = await syncNow(id);
    expect(rerun.body.disabled).toEqual({ endUsers: [], operators: [] });
  });
});
