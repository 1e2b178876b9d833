import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { eventually, freePort, LDAP_GROUPS, LDAP_PEOPLE, LDAP_SEED, SLAPD_ADMIN_DN, SlapdProcess, TestPki } from '@idm/test-kit';
import { startCluster, type Cluster } from './support/cluster';
import { addSigningKey, createDeployedProject, createLoginClient } from './support/login-cluster';
import { Browser, openLoginPage } from './support/test-browser';

const ENV = `fedu-${randomBytes(3).toString('hex')}`;
const MASTER_KEYS = `m1:${randomBytes(32).toString('base64')}`;

/**
 * Identity sources behind the password grant and the OpenID Provider's login page (#16): a real
 * slapd directory, a Manager and a Gateway process. A directory user who logs in becomes an end
 * user of the project linked to the source (just-in-time provisioning over the bus, published like
 * any end user), later logins refresh its roles; local accounts are never taken over, operators'
 * disabling wins, a source that is down is a 503 with its reason, and LDAP injection gets nobody in.
 */
describe('federated end users (password grant and login page through identity sources)', () => {
  const s = randomBytes(3).toString('hex');
  const RP = 'https://rp.example/cb';
  const SECRET = 'fed-client-secret';
  let slapd: SlapdProcess;
  let cluster: Cluster;
  let issuer: string;
  let projectId: string;
  let corpId: string;
  let appId: string;
  let downAppId: string;
  let caPem: string;
  const startedAt = new Date(Date.now() - 1_000).toISOString();

  /** The JWT endpoint: its claims show whose token it is and with which roles. */
  const tokenCall = async (clientId: string, fields: Record<string, string>) => {
    const res = await fetch(`${issuer}/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams(fields).toString(),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
  const passwordGrant = (username: string, password: string, clientId = appId) => tokenCall(clientId, { grant_type: 'password', username, password });
  const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
  const endUsers = async () => (await cluster.admin.call('GET', `/api/v1/projects/${projectId}/users`)) as Array<Record<string, any>>;
  const endUser = async (username: string) => (await endUsers()).find((u) => u.username === username);

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP fed CA', ca: true });
    const server = await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' });
    slapd = await SlapdProcess.start({ tls: server, seed: LDAP_SEED });
    caPem = ca.cert;
    cluster = await startCluster({
      environment: ENV,
      gateways: [{ IDM_MASTER_KEYS: MASTER_KEYS }],
      // The Manager indexes the auth records itself: the login page's attempts are read back through its analytics API.
      // The periodic sync looks for due sources every 2 s (each still runs once per its interval).
      managerEnv: { IDM_MASTER_KEYS: MASTER_KEYS, SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0', AUTH_RECORDS_INDEXER: 'on', IDENTITY_SOURCE_SYNC_CHECK_SECONDS: '2' },
    });
    const admin = cluster.admin;
    issuer = `${cluster.gateways[0]!.baseUrl}/credential`;
    await addSigningKey(cluster, ENV, 'RS256');
    projectId = await createDeployedProject(cluster, ENV, `fedu-${s}`, `/orders-${s}`);
    corpId = (
      await admin.call('POST', '/api/v1/identity-sources', {
        name: `corp-${s}`,
        type: 'ldap',
        projectId,
        config: { url: slapd.ldapsUrl, caPem, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE } },
        secret: 'svc-pass',
        roleMappings: { admins: ['admin'], staff: ['reader'] },
      })
    ).id;
    await admin.call('POST', '/api/v1/identity-sources', {
      name: `down-${s}`,
      type: 'ldap',
      config: { url: `ldap://127.0.0.1:${await freePort()}`, bind: { mode: 'direct', dnTemplate: `uid={username},${LDAP_PEOPLE}` } },
      timeoutMs: 2000,
    });
    // bob is also a directory user: the local account must never be taken over by the directory's password.
    await admin.endUsers.create(projectId, { username: 'bob', password: 'local-bob-password', email: 'bob-local@example.org' });
    const clientOf = (name: string, source: string) =>
      createLoginClient(cluster, projectId, {
        name,
        secret: SECRET,
        settings: { grants: ['password', 'authorization_code'], oidc: { redirectUris: [RP] }, identitySources: [source] },
      });
    appId = await clientOf('fed-app', `corp-${s}`);
    downAppId = await clientOf('down-app', `down-${s}`);
    await eventually(
      () => passwordGrant('bob', 'local-bob-password'),
      (r) => r.status === 200,
      { what: 'the clients, the local user and the identity sources to reach the Gateway', timeoutMs: 120_000 },
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await slapd?.destroy();
  });

  it('refuses token settings naming a source that does not exist or that is not usable (422 identity_source_not_usable), nothing written', async () => {
    const other = (await cluster.admin.projects.create({ name: `fedu-other-${s}` })).id;
    const client = (await cluster.admin.credentials.create(other, { username: 'other-app', password: SECRET, issueApiKey: false })).id;
    await expect(
      cluster.admin.call('PUT', `/api/v1/projects/${other}/credentials/${client}/token-settings`, { grants: ['password'], identitySources: ['no-such-source'] }),
    ).rejects.toThrow(/422.*identity_source_not_usable/);
    await expect(
      cluster.admin.call('PUT', `/api/v1/projects/${other}/credentials/${client}/token-settings`, { grants: ['password'], identitySources: [`corp-${s}`] }),
    ).rejects.toThrow(/422.*identity_source_not_usable.*another project/);
    expect(await cluster.admin.call('GET', `/api/v1/projects/${other}/credentials/${client}/token-settings`)).toBeNull();
  });

  it('provisions a directory user at the first password grant: an end user linked to the source, with the mapped roles and the directory email', async () => {
    expect(await endUser('alice')).toBeUndefined();
    const res = await passwordGrant('alice', 'alice-pass');
    expect(res.status).toBe(200);
    const user = await endUser('alice');
    expect(user).toMatchObject({
      hasPassword: false,
      email: 'alice@example.org',
      name: 'Alice Liddell',
      roles: ['admin', 'reader'],
      identitySource: { id: corpId, name: `corp-${s}` },
    });
    expect(claimsOf(String(res.body.access_token))).toMatchObject({ sub: user!.id, username: 'alice', roles: ['admin', 'reader'] });
    // The audit names the source as the actor of the creation.
    const audit = await cluster.admin.audit.query({ entityId: user!.id });
    expect(audit.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: 'end_user.create', actor: expect.objectContaining({ type: 'system', name: `identity-source:corp-${s}` }) })]),
    );
    // The second login uses the same user.
    expect((await passwordGrant('alice', 'alice-pass')).status).toBe(200);
    expect((await endUsers()).filter((u) => u.username === 'alice')).toHaveLength(1);
  });

  it('answers a repeat login within the cache TTL at the Gateway alone: no provisioning round trip, so it works while the Manager is down; a wrong password does not', async () => {
    expect((await passwordGrant('alice', 'alice-pass')).status).toBe(200);
    await cluster.manager.stop();
    try {
      const res = await passwordGrant('alice', 'alice-pass');
      expect(res.status).toBe(200);
      expect(claimsOf(String(res.body.access_token))).toMatchObject({ username: 'alice', roles: ['admin', 'reader'] });
      expect((await passwordGrant('alice', 'wrong-pass')).status).toBe(400);
    } finally {
      await cluster.restartManager();
    }
  });

  it('refuses a wrong password and LDAP filter injection with invalid_grant, provisioning nobody', async () => {
    for (const [username, password] of [
      ['alice', 'wrong-pass'],
      ['*', 'alice-pass'],
      ['*)(uid=*', 'alice-pass'],
      ['alice)(|(uid=*', 'alice-pass'],
      ['nobody', 'nothing-here'],
    ]) {
      const res = await passwordGrant(username, password);
      expect({ username, status: res.status, error: res.body.error }).toEqual({ username, status: 400, error: 'invalid_grant' });
    }
    expect((await endUsers()).map((u) => u.username).sort()).toEqual(['alice', 'bob']);
  });

  it('never lets the directory take over a local end user of the same name', async () => {
    expect((await passwordGrant('bob', 'bob-pass')).body.error).toBe('invalid_grant');
    expect((await passwordGrant('bob', 'local-bob-password')).status).toBe(200);
    expect(await endUser('bob')).toMatchObject({ hasPassword: true, identitySource: null, email: 'bob-local@example.org' });
  });

  it('logs a directory user in at the login page (openid-client): the ID token names the provisioned end user', async () => {
    const config = await oidc.discovery(new URL(issuer), appId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const submit = await openLoginPage(new Browser(), url.href);
    const wrong = await submit('alice', 'wrong-pass');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Invalid username or password.');
    const done = await submit('alice', 'alice-pass');
    expect(done.status).toBe(303);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.headers.get('location')!), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const alice = await endUser('alice');
    expect(tokens.claims()!.sub).toBe(alice!.id);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, alice!.id);
    expect(info).toMatchObject({ preferred_username: 'alice', email: 'alice@example.org', name: 'Alice Liddell' });
  });

  it('refreshes the roles from the directory at the next login (group mapping changed)', async () => {
    await cluster.admin.call('PATCH', `/api/v1/identity-sources/${corpId}`, { roleMappings: { admins: ['owner'], staff: ['reader'] } });
    await eventually(
      () => passwordGrant('alice', 'alice-pass'),
      (r) => r.status === 200 && JSON.stringify(claimsOf(String(r.body.access_token)).roles) === JSON.stringify(['owner', 'reader']),
      { what: 'the new mapping to reach the Gateway and refresh alice at login', timeoutMs: 60_000 },
    );
    expect(await endUser('alice')).toMatchObject({ roles: ['owner', 'reader'], identitySource: { id: corpId } });
  });

  it('keeps a provisioned user the operator disabled out, though the directory verifies the password', async () => {
    const alice = (await endUser('alice'))!;
    await cluster.admin.endUsers.update(projectId, alice.id, { enabled: false });
    await eventually(
      () => passwordGrant('alice', 'alice-pass'),
      (r) => r.status === 400,
      { what: 'the disabled user to reach the Gateway', timeoutMs: 60_000 },
    );
    expect((await passwordGrant('alice', 'alice-pass')).body.error).toBe('invalid_grant');
    expect(await endUser('alice')).toMatchObject({ enabled: false, identitySource: { id: corpId } });
    await cluster.admin.endUsers.update(projectId, alice.id, { enabled: true });
  });

  it('answers 503 temporarily_unavailable naming source_unavailable when the source is down, and leaks no secret', async () => {
    // carol is in no source this Gateway can reach: the outage is reported, never "allow" and never a wrong password.
    const res = await passwordGrant('carol', 'carol-pass', downAppId);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'temporarily_unavailable' });
    expect(String(res.body.error_description)).toContain('source_unavailable');
    expect(res.text).not.toContain('carol-pass');
    // alice belongs to corp: a client listing only another source never asks for her password (nor provisions her again).
    expect((await passwordGrant('alice', 'alice-pass', downAppId)).body.error).toBe('invalid_grant');
    expect(res.text).not.toContain('svc-pass');
    const settings = await cluster.admin.call('GET', `/api/v1/projects/${projectId}/credentials/${appId}/token-settings`);
    expect(settings.identitySources).toEqual([`corp-${s}`]);
    expect(JSON.stringify(await endUsers())).not.toContain('svc-pass');
  });

  it("records the login page's attempts with directory users (#17): the success and the wrong password above, source_unavailable while the source is down", async () => {
    const config = await oidc.discovery(new URL(issuer), downAppId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const down = await (await openLoginPage(new Browser(), url.href))('carol', 'carol-pass');
    expect(down.status).toBe(503);
    const alice = (await endUser('alice'))!;
    type Counted = { credentialId: string | null; username: string | null; reason?: string | null; outcome?: string };
    const analytics = (filter: string) =>
      cluster.admin.call('GET', `/api/v1/analytics/auth?environment=${ENV}&projectId=${projectId}&from=${encodeURIComponent(startedAt)}${filter}`);
    // The password grants of the other tests are records too; the login page's are the ones with alice's credential at success, carol's outage.
    await eventually(
      () => analytics(`&outcome=success&credentialId=${alice.id}`),
      (a) => a.byCredential.some((c: Counted) => c.credentialId === alice.id),
      { what: "the directory user's successful login indexed", timeoutMs: 60_000 },
    );
    const refused = await eventually(
      () => analytics('&outcome=denied'),
      (a) => a.byReason.some((r: Counted) => r.reason === 'source_unavailable') && a.topFailingCredentials.some((c: Counted) => c.username === 'carol'),
      { what: "carol's login during the outage indexed", timeoutMs: 60_000 },
    );
    expect(refused.byReason.map((r: Counted) => r.reason)).toContain('invalid_credentials');
    expect(JSON.stringify(refused)).not.toContain('carol-pass');
  });
  it('re-login refreshes groups from the directory (ldapmodify); a user removed from it (ldapdelete) is refused at the next login, and the periodic sync disables it so the Gateway refuses its refresh token too; nothing is re-enabled', async () => {
    /** Changes the directory as its admin with ldap-utils (what SlapdProcess seeds it with). */
    const directory = (tool: 'ldapadd' | 'ldapmodify' | 'ldapdelete', input: string) => {
      const run = spawnSync(tool, ['-x', '-H', slapd.ldapUrl, '-D', SLAPD_ADMIN_DN, '-w', slapd.adminPassword], { input, encoding: 'utf8', timeout: 30_000 });
      if (run.status !== 0) throw new Error(`${tool} failed: ${run.stderr}`);
    };
    const membership = (op: 'add' | 'delete', group: string) => `dn: cn=${group},${LDAP_GROUPS}\nchangetype: modify\n${op}: member\nmember: uid=dave,${LDAP_PEOPLE}\n`;
    const dave = `dn: uid=dave,${LDAP_PEOPLE}\nobjectClass: inetOrgPerson\nuid: dave\ncn: Dave\nsn: Dave\nmail: dave@example.org\nuserPassword: dave-pass\n`;
    const refresh = (token: string) => tokenCall(appId, { grant_type: 'refresh_token', refresh_token: token });
    await cluster.admin.credentials.putTokenSettings(projectId, appId, {
      grants: ['password', 'authorization_code', 'refresh_token'],
      refreshAllowed: true,
      oidc: { redirectUris: [RP] },
      identitySources: [`corp-${s}`],
    });
    // No verified cache: every login asks the directory (what "the next login" means here).
    await cluster.admin.call('PATCH', `/api/v1/identity-sources/${corpId}`, { cacheTtlSeconds: 0 });
    directory('ldapadd', dave);
    directory('ldapmodify', `${membership('add', 'admins')}\n${membership('add', 'staff')}`);
    const rolesOf = (r: { body: Record<string, unknown> }) => claimsOf(String(r.body.access_token)).roles as string[];
    const first = await eventually(
      () => passwordGrant('dave', 'dave-pass'),
      (r) => r.status === 200 && typeof r.body.refresh_token === 'string',
      { what: 'dave provisioned, refresh tokens allowed, the cache off', timeoutMs: 60_000 },
    );
    // Both groups mapped (admins to 'owner' since the mapping changed above, staff to 'reader').
    expect(rolesOf(first)).toEqual(['owner', 'reader']);
    // Re-login follows the directory: a group left is a role lost.
    directory('ldapmodify', membership('delete', 'admins'));
    const regrouped = await passwordGrant('dave', 'dave-pass');
    expect(regrouped.status).toBe(200);
    expect(rolesOf(regrouped)).toEqual(['reader']);
    expect(await endUser('dave')).toMatchObject({ enabled: true, roles: ['reader'], identitySource: { id: corpId } });

    // Gone from the directory: the next login is refused; without a sync the end user and its refresh token live on.
    directory('ldapdelete', `uid=dave,${LDAP_PEOPLE}\n`);
    expect(await passwordGrant('dave', 'dave-pass')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const stillValid = await refresh(String(regrouped.body.refresh_token));
    expect(stillValid.status).toBe(200);
    expect(await endUser('dave')).toMatchObject({ enabled: true });

    // The periodic sync (interval 5 min, looked for every 2 s) disables dave, as the system.
    await cluster.admin.call('PATCH', `/api/v1/identity-sources/${corpId}`, { sync: { enabled: true, intervalMinutes: 5 } });
    const disabled = await eventually(
      () => endUser('dave'),
      (u) => u?.enabled === false,
      { what: 'the periodic sync to disable dave', timeoutMs: 60_000 },
    );
    expect(await endUser('alice')).toMatchObject({ enabled: true });
    const audit = (await cluster.admin.audit.query({ entityId: disabled!.id })).items;
    expect(audit[0]).toMatchObject({ action: 'end_user.update', actor: expect.objectContaining({ type: 'system', name: `identity-source-sync:corp-${s}` }) });
    // Published like any disabling: the Gateway refuses dave's refresh token.
    await eventually(
      () => refresh(String(stillValid.body.refresh_token)),
      (r) => r.status === 400 && r.body.error === 'invalid_grant',
      { what: "dave's refresh token refused once his disabling reaches the Gateway", timeoutMs: 60_000 },
    );

    // Back in the directory: no sync re-enables him (an operator does).
    directory('ldapadd', dave);
    const again = await cluster.admin.call('POST', `/api/v1/identity-sources/${corpId}/sync`);
    expect(again.disabled).toEqual({ endUsers: [], operators: [] });
    expect(await endUser('dave')).toMatchObject({ enabled: false });
    expect(await passwordGrant('dave', 'dave-pass')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await cluster.admin.call('PATCH', `/api/v1/identity-sources/${corpId}`, { sync: null, cacheTtlSeconds: 60 });
  });

  it('pauses sign-ins through a disabled source (its users left as they are); deleting the source disables its users, audited, their refresh tokens refused', async () => {
    // A refreshable session of alice's from before: a deleted directory must not leave it alive.
    await cluster.admin.credentials.putTokenSettings(projectId, appId, {
      grants: ['password', 'authorization_code', 'refresh_token'],
      refreshAllowed: true,
      oidc: { redirectUris: [RP] },
      identitySources: [`corp-${s}`],
    });
    const session = await eventually(
      () => passwordGrant('alice', 'alice-pass'),
      (r) => r.status === 200 && typeof r.body.refresh_token === 'string',
      { what: 'refresh tokens allowed at the Gateway', timeoutMs: 60_000 },
    );
    const refresh = (token: string) => tokenCall(appId, { grant_type: 'refresh_token', refresh_token: token });
    const alice = (await endUser('alice'))!;

    await cluster.admin.call('PATCH', `/api/v1/identity-sources/${corpId}`, { enabled: false });
    await eventually(
      () => passwordGrant('alice', 'alice-pass'),
      (r) => r.status === 400 && r.body.error === 'invalid_grant',
      { what: 'the disabled source to reach the Gateway', timeoutMs: 60_000 },
    );
    expect(await endUser('alice')).toMatchObject({ enabled: true, identitySource: { id: corpId } });
    await cluster.admin.call('PATCH', `/api/v1/identity-sources/${corpId}`, { enabled: true });
    await eventually(
      () => passwordGrant('alice', 'alice-pass'),
      (r) => r.status === 200,
      { what: 'the re-enabled source to reach the Gateway', timeoutMs: 60_000 },
    );

    const updatesOfAlice = async () => (await cluster.admin.audit.query({ entityId: alice.id })).items.filter((e: any) => e.action === 'end_user.update');
    const updatesBefore = (await updatesOfAlice()).length;
    await cluster.admin.call('DELETE', `/api/v1/identity-sources/${corpId}`);
    expect(await endUser('alice')).toMatchObject({ enabled: false, identitySource: { id: corpId, name: corpId } });
    // The local user is none of the source's business.
    expect(await endUser('bob')).toMatchObject({ enabled: true });
    // Audited as the operator's change of alice, one more than before.
    const updates = await updatesOfAlice();
    expect(updates).toHaveLength(updatesBefore + 1);
    expect(updates[0]).toMatchObject({ actor: expect.objectContaining({ type: 'user' }) });
    await eventually(
      () => refresh(String(session.body.refresh_token)),
      (r) => r.status === 400 && r.body.error === 'invalid_grant',
      { what: "alice's refresh token refused once her disabling reaches the Gateway", timeoutMs: 60_000 },
    );
    expect((await passwordGrant('alice', 'alice-pass')).body.error).toBe('invalid_grant');
  });
});
