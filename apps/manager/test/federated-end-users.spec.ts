import { randomBytes } from 'node:crypto';
import { FederatedEndUsers } from '../src/end-users/federated-end-users.service';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Just-in-time provisioning as the Manager answers `end-users.provision` (PostgreSQL): what a
 * Gateway may and may not get provisioned. The end-to-end path (slapd, Gateway, bus) is
 * federated-end-users.e2e.spec.ts; here are the refusals and the races a Gateway cannot stage.
 */
describe('federated end users: the Manager side of just-in-time provisioning', () => {
  const s = randomBytes(3).toString('hex');
  let database: TestDatabase;
  let m: InProcessManager;
  let federated: FederatedEndUsers;
  let project: string;
  let other: string;
  let sourceId: string;
  let foreignSourceId: string;
  let disabledSourceId: string;
  const ldap = (name: string, extra: Record<string, unknown> = {}) => ({
    name: `${name}-${s}`,
    type: 'ldap',
    config: { url: 'ldaps://ldap.invalid:636', bind: { mode: 'direct', dnTemplate: 'uid={username},dc=example,dc=org' } },
    ...extra,
  });
  const request = (extra: Record<string, unknown> = {}) => ({
    environment: 'prod',
    projectId: project,
    sourceId,
    username: 'dora',
    email: 'dora@example.org',
    displayName: 'Dora',
    roles: ['reader'],
    ...extra,
  });
  const users = async () => (await m.request('GET', `/api/v1/projects/${project}/users`)).body as Array<Record<string, any>>;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    federated = m.app.get(FederatedEndUsers);
    project = (await m.request('POST', '/api/v1/projects', { name: `fed-a-${s}` })).body.id;
    other = (await m.request('POST', '/api/v1/projects', { name: `fed-b-${s}` })).body.id;
    sourceId = (await m.request('POST', '/api/v1/identity-sources', ldap('corp'))).body.id;
    foreignSourceId = (await m.request('POST', '/api/v1/identity-sources', ldap('theirs', { projectId: other }))).body.id;
    disabledSourceId = (await m.request('POST', '/api/v1/identity-sources', ldap('off', { enabled: false }))).body.id;
    await m.request('POST', `/api/v1/projects/${project}/users`, { username: 'erin', password: 'erin-password-1', email: 'erin@example.org' });
  }, 120_000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  });

  it('refuses a source that is unknown, disabled or another project’s, and a username a credential cannot have, creating nothing', async () => {
    expect(await federated.provision(request({ sourceId: '00000000-0000-4000-8000-000000000000' }))).toEqual({ outcome: 'refused', reason: 'source_not_usable' });
    expect(await federated.provision(request({ sourceId: disabledSourceId }))).toEqual({ outcome: 'refused', reason: 'source_not_usable' });
    expect(await federated.provision(request({ sourceId: foreignSourceId }))).toEqual({ outcome: 'refused', reason: 'source_not_usable' });
    expect(await federated.provision(request({ username: 'dora smith' }))).toEqual({ outcome: 'refused', reason: 'invalid_identity' });
    expect(await federated.provision(request({ username: "*)(uid=*'; DROP TABLE credentials; --" }))).toEqual({ outcome: 'refused', reason: 'invalid_identity' });
    expect((await users()).map((u) => u.username)).toEqual(['erin']);
  });

  it('never takes over a local user of the same username', async () => {
    expect(await federated.provision(request({ username: 'erin' }))).toEqual({ outcome: 'refused', reason: 'username_taken' });
    expect((await users()).find((u) => u.username === 'erin')).toMatchObject({ hasPassword: true, identitySource: null, email: 'erin@example.org' });
  });

  it('provisions once under concurrent first logins (two Gateways), then refreshes only what changed', async () => {
    const replies = await Promise.all([federated.provision(request()), federated.provision(request()), federated.provision(request())]);
    const ids = new Set(replies.map((r) => (r.outcome === 'provisioned' ? r.credentialId : r.reason)));
    expect(ids.size).toBe(1);
    expect(replies[0]).toMatchObject({ outcome: 'provisioned', roles: ['reader'] });
    const [id] = [...ids];
    expect((await users()).filter((u) => u.username === 'dora')).toEqual([
      expect.objectContaining({ id, hasPassword: false, email: 'dora@example.org', roles: ['reader'], identitySource: { id: sourceId, name: `corp-${s}` } }),
    ]);
    const audit = async () => (await m.request('GET', `/api/v1/audit?entityId=${id}`)).body.items as Array<{ action: string }>;
    const before = (await audit()).length;
    // Same values: no write, no audit row.
    await federated.provision(request());
    expect((await audit()).length).toBe(before);
    // The directory's new roles (unusable names dropped) and an email erin already has (left empty).
    expect(await federated.provision(request({ roles: ['writer', 'bad role!', 'reader'], email: 'ERIN@example.org' }))).toEqual({
      outcome: 'provisioned',
      credentialId: id,
      roles: ['reader', 'writer'],
    });
    expect((await users()).find((u) => u.username === 'dora')).toMatchObject({ roles: ['reader', 'writer'], email: '' });
    expect((await audit()).map((e) => e.action)).toContain('end_user.update');
  });

  it('keeps the link and the operator’s lock when an operator edits the user; another source cannot claim it', async () => {
    const dora = (await users()).find((u) => u.username === 'dora')!;
    expect((await m.request('PATCH', `/api/v1/projects/${project}/users/${dora.id}`, { locked: true, givenName: 'Dora' })).status).toBe(200);
    await federated.provision(request({ roles: ['reader'] }));
    expect((await users()).find((u) => u.username === 'dora')).toMatchObject({ locked: true, givenName: 'Dora', identitySource: { id: sourceId } });
    const second = (await m.request('POST', '/api/v1/identity-sources', ldap('second'))).body.id;
    expect(await federated.provision(request({ sourceId: second }))).toEqual({ outcome: 'refused', reason: 'username_taken' });
  });
});
