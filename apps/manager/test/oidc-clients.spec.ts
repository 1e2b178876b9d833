import { oidcConsentKey } from '@idm/config-bus';
import Redis from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const OIDC = { grants: ['authorization_code'], oidc: { redirectUris: ['https://rp.example/cb'], consentRequired: true } };

/**
 * A project's OIDC clients and the consents given to each (in-process Manager, PGlite, real
 * Redis): only credentials with OIDC client settings are listed, paged by username; a client's
 * consents are found among the project's end users in every environment, a page of end users at
 * a time; the permission named in a 403; bad input refused with a 400.
 */
describe('OIDC clients and their consents (admin API)', () => {
  const s = randomBytes(3).toString('hex');
  let database: TestDatabase;
  let m: InProcessManager;
  const redis = new Redis(REDIS_URL);
  const keys: string[] = [];
  let project: string;
  let other: string;
  let viewerToken: string;
  const clients = (p = project) => `/api/v1/projects/${p}/oidc-clients`;

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    m = await startInProcessManager(database);
    project = (await m.request('POST', '/api/v1/projects', { name: `oc-a-${s}` })).body.id;
    other = (await m.request('POST', '/api/v1/projects', { name: `oc-b-${s}` })).body.id;
    const roles: { name: string; id: string }[] = (await m.request('GET', '/api/v1/roles')).body;
    const viewer = (await m.request('POST', '/api/v1/users', { username: `ocviewer${s}`, password: 'user-password-1' })).body;
    await m.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r) => r.name === 'project-viewer')!.id,
      subject: { type: 'user', id: viewer.id },
      scope: { type: 'project', id: project },
    });
    viewerToken = (await m.request('POST', '/api/v1/auth/login', { username: `ocviewer${s}`, password: 'user-password-1' }, { token: null })).body.token;
  }, 300_000);

  afterAll(async () => {
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await m?.close();
    await database?.drop();
  });

  const credential = async (username: string, settings?: unknown, p = project) => {
    const id = (await m.request('POST', `/api/v1/projects/${p}/credentials`, { username, issueApiKey: false })).body.id as string;
    if (settings) expect((await m.request('PUT', `/api/v1/projects/${p}/credentials/${id}/token-settings`, settings)).status).toBe(200);
    return id;
  };

  it('lists only the credentials that are OIDC clients, by username a page at a time', async () => {
    const portal = await credential('portal', OIDC);
    await credential('machine', { grants: ['client_credentials'] }); // gets tokens, but is no OIDC client
    await credential('plain');
    const spa = await credential('spa', {
      grants: ['authorization_code'],
      oidc: { clientType: 'public', tokenEndpointAuthMethod: 'none', redirectUris: ['https://spa.example/cb'] },
    });
    await credential('elsewhere', OIDC, other);

    const listed = await m.request('GET', clients());
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      { credentialId: portal, username: 'portal', enabled: true, clientType: 'confidential', redirectUris: ['https://rp.example/cb'], consentRequired: true },
      { credentialId: spa, username: 'spa', enabled: true, clientType: 'public', redirectUris: ['https://spa.example/cb'], consentRequired: false },
    ]);
    expect((await m.request('GET', `${clients()}?limit=1`)).body.map((c: { username: string }) => c.username)).toEqual(['portal']);
    expect((await m.request('GET', `${clients()}?limit=1&after=portal`)).body.map((c: { username: string }) => c.username)).toEqual(['spa']);
    // A credential that stops being an OIDC client leaves the list.
    expect((await m.request('DELETE', `/api/v1/projects/${project}/credentials/${spa}/token-settings`)).status).toBe(204);
    expect((await m.request('GET', clients())).body.map((c: { username: string }) => c.username)).toEqual(['portal']);
  });

  it("finds a client's consents among the end users, in every environment, a page of end users at a time", async () => {
    const env = (await m.request('POST', '/api/v1/environments', { name: `oc-env-${s}` })).body.name as string;
    const client = await credential('consented-rp', OIDC);
    const user = async (username: string) => (await m.request('POST', `/api/v1/projects/${project}/users`, { username, email: `${username}@example.com` })).body.id as string;
    const ada = await user('ada');
    const bob = await user('bob');
    const cy = await user('cy');
    const consent = async (userId: string, clientId: string, scopes: string) => {
      keys.push(oidcConsentKey(env, userId));
      await redis.hset(oidcConsentKey(env, userId), clientId, scopes);
    };
    await consent(ada, client, 'openid email');
    await consent(bob, randomUUID(), 'openid'); // another client's
    await consent(cy, client, 'openid');

    const all = await m.request('GET', `${clients()}/${client}/consents`);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      items: [
        { userId: ada, username: 'ada', environment: env, scopes: ['openid', 'email'] },
        { userId: cy, username: 'cy', environment: env, scopes: ['openid'] },
      ],
      next: null,
    });
    // Two end users a page: ada and bob first (bob's consent is to another client), then cy.
    const first = (await m.request('GET', `${clients()}/${client}/consents?limit=2`)).body;
    expect(first).toEqual({ items: [{ userId: ada, username: 'ada', environment: env, scopes: ['openid', 'email'] }], next: 'bob' });
    expect((await m.request('GET', `${clients()}/${client}/consents?limit=2&after=bob`)).body).toEqual({
      items: [{ userId: cy, username: 'cy', environment: env, scopes: ['openid'] }],
      next: null,
    });
    // A project viewer reads them too.
    expect((await m.request('GET', `${clients()}/${client}/consents`, undefined, { token: viewerToken })).status).toBe(200);
  });

  it('answers 404 for a credential that is no OIDC client or is in another project', async () => {
    const plain = await credential('not-a-client');
    expect(await m.request('GET', `${clients()}/${plain}/consents`)).toMatchObject({ status: 404, body: { code: 'oidc_client_not_found' } });
    expect(await m.request('GET', `${clients()}/${randomUUID()}/consents`)).toMatchObject({ status: 404, body: { code: 'oidc_client_not_found' } });
    const elsewhere = await credential('other-rp', OIDC, other);
    expect(await m.request('GET', `${clients()}/${elsewhere}/consents`)).toMatchObject({ status: 404, body: { code: 'oidc_client_not_found' } });
  });

  it("refuses a reader without credential:read at the project with a 403 naming it, for the list and a client's consents", async () => {
    const token = { token: viewerToken };
    expect((await m.request('GET', clients(), undefined, token)).status).toBe(200);
    expect(await m.request('GET', clients(other), undefined, token)).toMatchObject({
      status: 403,
      body: { code: 'permission_denied', permission: 'credential:read', scope: { type: 'project', id: other } },
    });
    const elsewhere = (await m.request('GET', clients(other))).body[0].credentialId as string;
    expect(await m.request('GET', `${clients(other)}/${elsewhere}/consents`, undefined, token)).toMatchObject({
      status: 403,
      body: { code: 'permission_denied', permission: 'credential:read' },
    });
  });

  it.each([
    ['a malformed project id', () => '/api/v1/projects/not-an-id/oidc-clients', 'invalid_id'],
    ['a malformed client id', () => `${clients()}/not-an-id/consents`, 'invalid_id'],
    ['a limit of 0', () => `${clients()}?limit=0`, 'validation_failed'],
    ['a limit over 500', () => `${clients()}/${randomUUID()}/consents?limit=501`, 'validation_failed'],
    ['an unknown parameter', () => `${clients()}?search=x`, 'validation_failed'],
    ['an over-long cursor', () => `${clients()}?after=${'a'.repeat(129)}`, 'validation_failed'],
  ])('refuses %s with a 400 and a reason code', async (_, path, code) => {
    expect(await m.request('GET', path())).toMatchObject({ status: 400, body: { code } });
  });

  it('answers 404 for an unknown project', async () => {
    expect(await m.request('GET', clients(randomUUID()))).toMatchObject({ status: 404, body: { code: 'project_not_found' } });
  });
});
