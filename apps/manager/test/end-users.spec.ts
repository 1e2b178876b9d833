import { END_USER_LAST_LOGIN_KEY, oidcConsentKey } from '@idm/config-bus';
import Redis from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * End users through the admin API (in-process Manager, PGlite, real Redis): a user is a credential
 * with a profile, email unique per project (case-insensitive) among end users, search and keyset
 * paging, disable/lock, last login read from Redis, the permission named in a 403, bad input
 * refused with nothing written, and the password never in an answer or the audit.
 */
describe('end users (admin API)', () => {
  const s = randomBytes(3).toString('hex');
  let database: TestDatabase;
  let m: InProcessManager;
  const redis = new Redis(REDIS_URL);
  let project: string;
  let other: string;
  let viewerToken: string;
  const url = (p = project) => `/api/v1/projects/${p}/users`;
  const created: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    m = await startInProcessManager(database);
    project = (await m.request('POST', '/api/v1/projects', { name: `eu-a-${s}` })).body.id;
    other = (await m.request('POST', '/api/v1/projects', { name: `eu-b-${s}` })).body.id;
    const roles: { name: string; id: string }[] = (await m.request('GET', '/api/v1/roles')).body;
    const viewer = (await m.request('POST', '/api/v1/users', { username: `viewer${s}`, password: 'user-password-1' })).body;
    await m.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r) => r.name === 'project-viewer')!.id,
      subject: { type: 'user', id: viewer.id },
      scope: { type: 'project', id: project },
    });
    viewerToken = (await m.request('POST', '/api/v1/auth/login', { username: `viewer${s}`, password: 'user-password-1' }, { token: null })).body.token;
  }, 300_000);

  afterAll(async () => {
    if (created.length) await redis.hdel(END_USER_LAST_LOGIN_KEY, ...created);
    redis.disconnect();
    await m?.close();
    await database?.drop();
  });

  it('creates an end user: profile answered, password never; audited as end_user.create with the hash masked', async () => {
    const res = await m.request('POST', url(), {
      username: 'ada',
      password: 'end-user-password',
      email: 'Ada@Example.com',
      name: 'Ada Lovelace',
      givenName: 'Ada',
      familyName: 'Lovelace',
      locale: 'en-GB',
      pictureUrl: 'https://example.com/ada.png',
      attributes: { department: 'engines' },
      roles: ['analyst'],
    });
    expect(res.status).toBe(201);
    created.push(res.body.id);
    expect(res.body).toMatchObject({
      projectId: project,
      username: 'ada',
      hasPassword: true,
      email: 'Ada@Example.com',
      emailVerified: false,
      name: 'Ada Lovelace',
      locale: 'en-GB',
      attributes: { department: 'engines' },
      roles: ['analyst'],
      enabled: true,
      locked: false,
      lastLoginAt: null,
    });
    expect(JSON.stringify(res.body)).not.toContain('end-user-password');
    const audit = (await m.request('GET', '/api/v1/audit?limit=5')).body.items.find((e: { action: string }) => e.action === 'end_user.create');
    expect(audit).toBeDefined();
    expect(JSON.stringify(audit)).not.toContain('end-user-password');
    expect(JSON.stringify(audit)).not.toContain('$argon2id');
    // The end user is the credential: the same id under /credentials.
    expect((await m.request('GET', `/api/v1/projects/${project}/credentials/${res.body.id}`)).body).toMatchObject({
      username: 'ada',
      email: 'Ada@Example.com',
      roles: ['analyst'],
    });
  });

  it('keeps emails unique per project among end users, case-insensitively (409 email_taken), and free across projects', async () => {
    const clash = await m.request('POST', url(), { username: 'ada2', email: 'ada@example.COM' });
    expect(clash).toMatchObject({ status: 409, body: { code: 'email_taken' } });
    expect((await m.request('GET', `${url()}?search=ada2`)).body).toEqual([]);
    const elsewhere = await m.request('POST', url(other), { username: 'ada', email: 'ada@example.com' });
    expect(elsewhere.status).toBe(201);
    created.push(elsewhere.body.id);
    // A machine credential with the same email is not an end user: no clash, and not listed.
    const machine = await m.request('POST', `/api/v1/projects/${project}/credentials`, { username: 'billing', email: 'ada@example.com', issueApiKey: false });
    expect(machine.status).toBe(201);
    expect((await m.request('GET', `${url()}/${machine.body.id}`)).status).toBe(404);
    const bob = await m.request('POST', url(), { username: 'bob', email: 'bob@example.com' });
    created.push(bob.body.id);
    expect((await m.request('PATCH', `${url()}/${bob.body.id}`, { email: 'ADA@example.com' })).body).toMatchObject({ code: 'email_taken' });
  });

  it('lists by username a page at a time and searches username, email and name', async () => {
    for (const n of ['carol', 'dave', 'erin'])
      created.push((await m.request('POST', url(), { username: n, email: `${n}@corp.example`, name: `${n.toUpperCase()} Smith` })).body.id);
    const first = (await m.request('GET', `${url()}?limit=2`)).body;
    expect(first.map((u: { username: string }) => u.username)).toEqual(['ada', 'bob']);
    const next = (await m.request('GET', `${url()}?limit=2&after=bob`)).body;
    expect(next.map((u: { username: string }) => u.username)).toEqual(['carol', 'dave']);
    expect((await m.request('GET', `${url()}?search=CORP.example`)).body.map((u: { username: string }) => u.username)).toEqual(['carol', 'dave', 'erin']);
    expect((await m.request('GET', `${url()}?search=erin%20smith`)).body.map((u: { username: string }) => u.username)).toEqual(['erin']);
    // LIKE wildcards are literal.
    expect((await m.request('GET', `${url()}?search=%25`)).body).toEqual([]);
  });

  it('disables, locks and re-verifies: a changed email is unverified again unless the update says otherwise', async () => {
    const id = created[0];
    await m.request('PATCH', `${url()}/${id}`, { emailVerified: true });
    const updated = await m.request('PATCH', `${url()}/${id}`, { enabled: false, locked: true, email: 'ada@lovelace.example', familyName: null });
    expect(updated.body).toMatchObject({ enabled: false, locked: true, email: 'ada@lovelace.example', emailVerified: false, familyName: null, givenName: 'Ada' });
    expect((await m.request('PATCH', `${url()}/${id}`, { email: 'ada@lovelace2.example', emailVerified: true })).body.emailVerified).toBe(true);
  });

  it('shows the last login the Gateways recorded in Redis', async () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    await redis.hset(END_USER_LAST_LOGIN_KEY, created[0], String(at));
    expect((await m.request('GET', `${url()}/${created[0]}`)).body.lastLoginAt).toBe(new Date(at).toISOString());
  });

  it('refuses a project viewer writes with a 403 naming credential:write at the project; reads are allowed', async () => {
    const token = { token: viewerToken };
    expect((await m.request('GET', url(), undefined, token)).status).toBe(200);
    expect(await m.request('POST', url(), { username: 'mallory', email: 'm@example.com' }, token)).toMatchObject({
      status: 403,
      body: { code: 'permission_denied', permission: 'credential:write', scope: { type: 'project', id: project } },
    });
    expect((await m.request('PATCH', `${url()}/${created[0]}`, { locked: false }, token)).body).toMatchObject({ permission: 'credential:write' });
    expect((await m.request('DELETE', `${url()}/${created[0]}`, undefined, token)).status).toBe(403);
    expect((await m.request('GET', url(other), undefined, token)).body).toMatchObject({ permission: 'credential:read' });
  });

  it.each([
    ['no email', { username: 'x1' }],
    ['a malformed email', { username: 'x2', email: 'not-an-email' }],
    ['a locale that is no language tag', { username: 'x3', email: 'x3@example.com', locale: 'en_GB;drop' }],
    ['a javascript: picture URL', { username: 'x4', email: 'x4@example.com', pictureUrl: 'javascript:alert(1)' }],
    ['an attribute name with spaces', { username: 'x5', email: 'x5@example.com', attributes: { 'a b': 'c' } }],
    ['a short password', { username: 'x6', email: 'x6@example.com', password: 'short' }],
    ['an unknown field', { username: 'x7', email: 'x7@example.com', admin: true }],
    ['a username with a slash', { username: 'x/8', email: 'x8@example.com' }],
  ])('refuses %s with 400 validation_failed and writes nothing', async (_what, body) => {
    expect(await m.request('POST', url(), body)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect((await m.request('GET', `${url()}?search=x`)).body.filter((u: { username: string }) => /^x/.test(u.username))).toEqual([]);
  });

  it('answers 404 for unknown ids, 400 for malformed ones and bad paging', async () => {
    expect(await m.request('GET', `${url()}/0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d`)).toMatchObject({ status: 404 });
    expect(await m.request('GET', `${url()}/nope`)).toMatchObject({ status: 400, body: { code: 'invalid_id' } });
    expect(await m.request('GET', `${url()}?limit=0`)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect(await m.request('PATCH', `${url()}/${created[0]}`, { locked: 'yes' })).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
  });

  it.each<[string, Record<string, unknown>]>([
    ['an http redirect URI off loopback', { grants: ['authorization_code'], oidc: { redirectUris: ['http://rp.example/cb'] } }],
    ['a javascript: redirect URI', { grants: ['authorization_code'], oidc: { redirectUris: ['javascript:alert(1)'] } }],
    ['a public client with a client secret method', { grants: ['authorization_code'], oidc: { clientType: 'public', redirectUris: ['https://rp.example/cb'] } }],
    ['the code grant without oidc settings', { grants: ['authorization_code'] }],
    ['private_key_jwt without keys', { grants: ['authorization_code'], oidc: { redirectUris: ['https://rp.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt' } }],
    [
      'a private key as a client key',
      {
        grants: ['authorization_code'],
        oidc: { redirectUris: ['https://rp.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }] } },
      },
    ],
    [
      'a symmetric client key',
      {
        grants: ['authorization_code'],
        oidc: { redirectUris: ['https://rp.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
      },
    ],
    [
      'keys for a secret method',
      { grants: ['authorization_code'], oidc: { redirectUris: ['https://rp.example/cb'], jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } } },
    ],
    ...[
      ['an http jwksUri off loopback', 'http://keys.example/jwks'],
      ['a javascript: jwksUri', 'javascript:alert(1)'],
      ['a jwksUri with user info', 'https://user:pass@keys.example/jwks'],
      ['a jwksUri with a fragment', 'https://keys.example/jwks#k1'],
      ['a relative jwksUri', '/jwks'],
      ['a jwksUri longer than 2048 characters', `https://keys.example/${'k'.repeat(2048)}`],
    ].map(([what, jwksUri]): [string, Record<string, unknown>] => [
      what,
      { grants: ['authorization_code'], oidc: { redirectUris: ['https://rp.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt', jwksUri } },
    ]),
    ['a jwksUri for a secret method', { grants: ['authorization_code'], oidc: { redirectUris: ['https://rp.example/cb'], jwksUri: 'https://keys.example/jwks' } }],
    ['oidc settings without the code grant', { grants: ['client_credentials'], oidc: { redirectUris: ['https://rp.example/cb'] } }],
  ])('refuses OIDC client settings with %s: 400 validation_failed, nothing stored', async (_what, body) => {
    const client = (await m.request('POST', `/api/v1/projects/${project}/credentials`, { username: `rp-${randomBytes(3).toString('hex')}`, issueApiKey: false })).body;
    expect(await m.request('PUT', `/api/v1/projects/${project}/credentials/${client.id}/token-settings`, body)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect((await m.request('GET', `/api/v1/projects/${project}/credentials/${client.id}/token-settings`)).body).toBeNull();
  });

  it('takes a jwksUri (https, or http on loopback) for a private_key_jwt client, alone or beside inline keys', async () => {
    const client = (await m.request('POST', `/api/v1/projects/${project}/credentials`, { username: `rp-${randomBytes(3).toString('hex')}`, issueApiKey: false })).body;
    const url = `/api/v1/projects/${project}/credentials/${client.id}/token-settings`;
    for (const oidc of [
      { jwksUri: 'https://keys.example/.well-known/jwks.json' },
      { jwksUri: 'http://127.0.0.1:8443/jwks', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'inline' }] } },
    ]) {
      const body = { grants: ['authorization_code'], oidc: { redirectUris: ['https://rp.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt', ...oidc } };
      expect((await m.request('PUT', url, body)).status).toBe(200);
      expect((await m.request('GET', url)).body.oidc).toMatchObject({ jwksUri: oidc.jwksUri, jwks: oidc.jwks ?? null });
    }
  });

  it('holds a client jwksUri to the upstream address policy: 422 upstream_forbidden naming oidc.jwksUri, nothing stored', async () => {
    const client = (await m.request('POST', `/api/v1/projects/${project}/credentials`, { username: `rp-${randomBytes(3).toString('hex')}`, issueApiKey: false })).body;
    const url = `/api/v1/projects/${project}/credentials/${client.id}/token-settings`;
    // 127.0.0.1 is allowed in these specs (UPSTREAM_ALLOW), the rest of 127/8 and link-local (cloud metadata) are not.
    for (const jwksUri of ['https://169.254.169.254/latest/meta-data/jwks', 'https://127.0.0.2:8443/jwks', 'https://[::1]/jwks']) {
      const body = { grants: ['authorization_code'], oidc: { redirectUris: ['https://rp.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt', jwksUri } };
      const res = await m.request('PUT', url, body);
      expect({ jwksUri, status: res.status, code: res.body.code, reason: res.body.reason }).toEqual({
        jwksUri,
        status: 422,
        code: 'upstream_forbidden',
        reason: 'internal_address',
      });
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['oidc.jwksUri']);
      expect((await m.request('GET', url)).body).toBeNull();
    }
  });

  it("lists and revokes an end user's OIDC consents in every environment (audited); 404 without one, 400 for a malformed id, 403 naming credential:write", async () => {
    const env = (await m.request('POST', '/api/v1/environments', { name: `eu-env-${s}` })).body;
    const user = (await m.request('POST', url(), { username: `consenting-${s}`, email: `consenting-${s}@example.com` })).body;
    created.push(user.id);
    const clientId = randomUUID();
    // As a Gateway's consent page leaves it.
    await redis.hset(oidcConsentKey(env.name, user.id), clientId, 'openid email', randomUUID(), 'openid');
    const consents = url() + `/${user.id}/consents`;
    const listed = (await m.request('GET', consents)).body;
    expect(listed).toContainEqual({ environment: env.name, clientId, scopes: ['openid', 'email'] });
    expect(listed).toHaveLength(2);
    expect((await m.request('GET', consents, undefined, { token: viewerToken })).status).toBe(200);
    expect(await m.request('DELETE', `${consents}/${clientId}`, undefined, { token: viewerToken })).toMatchObject({
      status: 403,
      body: { code: 'permission_denied', permission: 'credential:write' },
    });
    expect(await m.request('DELETE', `${consents}/not-a-client`)).toMatchObject({ status: 400, body: { code: 'invalid_id' } });
    expect(await m.request('DELETE', `${consents}/${randomUUID()}`)).toMatchObject({ status: 404, body: { code: 'consent_not_found' } });
    expect(await m.request('GET', `${url(other)}/${user.id}/consents`)).toMatchObject({ status: 404 });
    // Reading another project's end users' consents needs credential:read there.
    expect(await m.request('GET', `${url(other)}/${user.id}/consents`, undefined, { token: viewerToken })).toMatchObject({
      status: 403,
      body: { code: 'permission_denied', permission: 'credential:read' },
    });
    expect((await m.request('DELETE', `${consents}/${clientId}`)).status).toBe(204);
    const audit = (await m.request('GET', '/api/v1/audit?limit=5')).body.items.find((e: { action: string }) => e.action === 'end_user_consent.revoke');
    expect(audit).toMatchObject({ entity: { kind: 'end_user_consent', id: user.id, projectId: project }, diff: { clientId: { old: clientId, new: null } } });
    expect((await m.request('GET', consents)).body.map((c: { clientId: string }) => c.clientId)).not.toContain(clientId);
    expect(await redis.hexists(oidcConsentKey(env.name, user.id), clientId)).toBe(0);
    // Deleting the user takes its remaining consents along.
    expect((await m.request('DELETE', `${url()}/${user.id}`)).status).toBe(204);
    expect(await redis.exists(oidcConsentKey(env.name, user.id))).toBe(0);
  });

  it('deletes an end user with its credential and forgets its last login', async () => {
    const id = created[0];
    expect((await m.request('DELETE', `${url()}/${id}`)).status).toBe(204);
    expect((await m.request('GET', `${url()}/${id}`)).status).toBe(404);
    expect((await m.request('GET', `/api/v1/projects/${project}/credentials/${id}`)).status).toBe(404);
    expect(await redis.hget(END_USER_LAST_LOGIN_KEY, id)).toBeNull();
  });
});
