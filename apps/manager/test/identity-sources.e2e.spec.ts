import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import mysql from 'mysql2/promise';
import { curl, eventually, freePort, LDAP_PEOPLE, LDAP_SEED, SlapdProcess, TestPki } from '@idm/test-kit';

import { startCluster, type Cluster } from './support/cluster';

const ENV = `fed-${randomBytes(3).toString('hex')}`;
const MASTER_KEYS = `m1:${randomBytes(32).toString('base64')}`;

/**
 * Identity sources end to end: the Manager publishes an LDAP source (a real slapd over ldaps,
 * search-then-bind with the sealed service-account password), an SQL source (the machine's
 * MariaDB, bcrypt: the installation's own PostgreSQL is refused by the upstream policy) and one that is down; a Gateway process answers basic-auth for directory
 * users through the proxy's ordered source list, with roles mapped from groups.
 */
describe('identity sources end to end (Manager, Gateway, slapd, PostgreSQL)', () => {
  const s = randomBytes(3).toString('hex');
  const database = `idm_fed_e2e_${s}`;
  let slapd: SlapdProcess;
  let cluster: Cluster;
  let gatewayUrl: string;

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP e2e CA', ca: true });
    const server = await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' });
    slapd = await SlapdProcess.start({ tls: server, seed: LDAP_SEED });

    const db = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
    await db.query(`CREATE DATABASE ${database}`);
    await db.changeUser({ database });
    await db.query('CREATE TABLE members (login varchar(64) PRIMARY KEY, pw text NOT NULL, email text, display_name text, `groups` text)');
    await db.execute('INSERT INTO members VALUES (?, ?, ?, ?, ?)', ['carol', await bcrypt.hash('carol-pass', 8), 'carol@example.org', 'Carol', 'buyers']);
    await db.end();

    cluster = await startCluster({ environment: ENV, gateways: [{ IDM_MASTER_KEYS: MASTER_KEYS }], managerEnv: { IDM_MASTER_KEYS: MASTER_KEYS } });
    gatewayUrl = cluster.gateways[0]!.baseUrl;
    const admin = cluster.admin;
    await admin.call('POST', '/api/v1/identity-sources', {
      name: `down-${s}`,
      type: 'ldap',
      config: { url: `ldap://127.0.0.1:${await freePort()}`, bind: { mode: 'direct', dnTemplate: `uid={username},${LDAP_PEOPLE}` } },
      timeoutMs: 2000,
    });
    await admin.call('POST', '/api/v1/identity-sources', {
      name: `corp-${s}`,
      type: 'ldap',
      config: { url: slapd.ldapsUrl, caPem: ca.cert, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE } },
      secret: 'svc-pass',
      roleMappings: { admins: ['admin'], staff: ['reader'] },
    });
    const shop = (driver: string, port: number) => ({
      name: `shop-${s}`,
      type: 'sql',
      config: {
        driver,
        host: '127.0.0.1',
        port,
        database,
        user: 'root',
        query: 'SELECT pw AS password, email, display_name, `groups` FROM members WHERE login = :username',
        passwordFormat: 'bcrypt',
      },
      roleMappings: { buyers: ['customer'] },
    });
    // The installation's own PostgreSQL is no identity source (upstream policy: installation endpoint).
    await expect(admin.call('POST', '/api/v1/identity-sources', shop('postgres', 5432))).rejects.toThrow(/422.*upstream_forbidden.*config\.host/);
    await admin.call('POST', '/api/v1/identity-sources', shop('mysql', 3306));
    const project = await admin.call('POST', '/api/v1/projects', { name: `fed-${s}` });
    const proxy = (name: string, identitySources: string[]) =>
      admin.call('POST', `/api/v1/projects/${project.id}/proxies`, {
        name,
        basePath: `/${name}-${s}`,
        upstreamUrl: cluster.echoUrl,
        environments: [ENV],
        policies: [{ type: 'basic-auth', config: { identitySources } }],
      });
    await proxy('fed', [`down-${s}`, `corp-${s}`, `shop-${s}`]);
    await proxy('downonly', [`down-${s}`]);
    // The Manager refuses a source that does not exist.
    await expect(proxy('ghost', ['no-such-source'])).rejects.toThrow(/422.*identity_source_not_usable/);
    await eventually(
      () => curl(['-s', '-u', 'alice:alice-pass', `${gatewayUrl}/fed-${s}/x`]),
      (r) => r.status === 200,
      { what: 'the proxy and its identity sources to reach the Gateway', timeoutMs: 120_000 },
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await slapd?.destroy();
    const root = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
    await root.query(`DROP DATABASE IF EXISTS ${database}`);
    await root.end();
  });

  it('lets an LDAP user in past a source that is down, with roles from their groups', async () => {
    const res = await curl(['-s', '-u', 'alice:alice-pass', `${gatewayUrl}/fed-${s}/orders`]);
    expect(res.status).toBe(200);
    expect(res.body.headers).toMatchObject({ 'x-authenticated-userroles': 'admin,reader' });
    expect(res.body.headers.authorization).toBeUndefined();
  });

  it('lets an SQL user in through the third source', async () => {
    const res = await curl(['-s', '-u', 'carol:carol-pass', `${gatewayUrl}/fed-${s}/orders`]);
    expect(res.status).toBe(200);
    expect(res.body.headers).toMatchObject({ 'x-authenticated-userroles': 'customer' });
  });

  it('answers a wrong password 401 invalid_credentials, or the outage (503) when a source could not answer', async () => {
    const wrong = await curl(['-s', '-u', 'alice:wrong', `${gatewayUrl}/fed-${s}/orders`]);
    // The first source is down: no source verified and one could not answer, so the outage is reported, never "allow".
    expect(wrong).toMatchObject({ status: 503, body: { code: 'source_unavailable' } });
    const injection = await curl(['-s', '-u', '*)(uid=*:alice-pass', `${gatewayUrl}/fed-${s}/orders`]);
    expect(injection.status).toBe(503);
    const down = await curl(['-s', '-u', 'alice:alice-pass', `${gatewayUrl}/downonly-${s}/orders`]);
    expect(down).toMatchObject({ status: 503, body: { code: 'source_unavailable' } });
  });

  it('answers 401 invalid_credentials for a wrong password once no source is down', async () => {
    await cluster.admin.call('PATCH', `/api/v1/identity-sources/${(await cluster.admin.call('GET', '/api/v1/identity-sources')).find((x: any) => x.name === `down-${s}`).id}`, {
      enabled: false,
    });
    await eventually(
      () => curl(['-s', '-u', 'alice:wrong', `${gatewayUrl}/fed-${s}/orders`]),
      (r) => r.status === 401,
      { what: 'the disabled source to be skipped', timeoutMs: 60_000 },
    );
    expect(await curl(['-s', '-u', 'alice:wrong', `${gatewayUrl}/fed-${s}/orders`])).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
    expect(await curl(['-s', '-u', 'nobody:nothing', `${gatewayUrl}/fed-${s}/orders`])).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
    expect((await curl(['-s', '-u', 'alice:alice-pass', `${gatewayUrl}/fed-${s}/orders`])).status).toBe(200);
  });
});
