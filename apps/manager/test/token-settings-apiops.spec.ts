import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Token settings as APIops carries them (on each credential of a bundle: plan, apply, export, the
 * admin API's rules), and the JWT bearer grant's trusted key managers checked at save: a name the
 * Gateway could not resolve is refused (422 `key_manager_not_usable`) through the admin API and
 * through a bundle, and a refused bundle leaves nothing behind.
 */
const suffix = randomBytes(3).toString('hex');
const project = `tokens-${suffix}`;
const partner = `partner-${suffix}`;
const systemIdp = `system-idp-${suffix}`;
const jwtKeyManager = (name: string) => ({ name, issuer: `https://${name}.example/`, jwksUri: `https://${name}.example/jwks`, algorithms: ['ES256'] });

const backendSettings = {
  grants: ['client_credentials', 'refresh_token'],
  refreshAllowed: true,
  accessTokenLifetime: { amount: 10, unit: 'minutes' },
  scopes: ['orders:read', 'orders:write'],
  jwtClaims: ['username', 'email'],
  jwtBearer: { keyManagers: [partner, systemIdp], subject: 'client', maxLifetimeSeconds: 120 },
};
const webSettings = {
  grants: ['authorization_code', 'refresh_token'],
  oidc: { redirectUris: ['https://web.example/cb'], consentRequired: true },
};
const bundle = (over: Record<string, unknown> = {}, credentials: Record<string, unknown>[] = []) => ({
  apiVersion: 'idm/v1',
  kind: 'ProjectBundle',
  project: { name: project, description: null },
  keyManagers: [jwtKeyManager(partner)],
  credentials: [
    { username: 'backend', password: 'backend-password-1', tokenSettings: backendSettings },
    { username: 'web', password: 'web-password-1', tokenSettings: webSettings },
    { username: 'plain' },
    ...credentials,
  ],
  ...over,
});
const summary = (changes: any[]) => changes.map((c) => `${c.op} ${c.kind} ${c.name}${c.fields ? ` ${c.fields.join(',')}` : ''}`);

describe('Token settings in APIops bundles and their key managers', () => {
  let databaseA: TestDatabase;
  let databaseB: TestDatabase;
  let a: InProcessManager;
  let b: InProcessManager;

  const projectIdOf = async (m: InProcessManager, name = project): Promise<string | undefined> =>
    (await m.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === name)?.id;
  const credentialIdOf = async (m: InProcessManager, projectId: string, username: string): Promise<string> =>
    (await m.request('GET', `/api/v1/projects/${projectId}/credentials`)).body.find((c: any) => c.username === username).id;
  const settingsOf = async (m: InProcessManager, username: string) => {
    const projectId = (await projectIdOf(m))!;
    return (await m.request('GET', `/api/v1/projects/${projectId}/credentials/${await credentialIdOf(m, projectId, username)}/token-settings`)).body;
  };
  const exportOf = async (m: InProcessManager) => (await m.request('GET', `/api/v1/projects/${await projectIdOf(m)}/bundle`)).body;

  beforeAll(async () => {
    [databaseA, databaseB] = await Promise.all([createTestDatabase('postgres'), createTestDatabase('postgres')]);
    [a, b] = await Promise.all([startInProcessManager(databaseA), startInProcessManager(databaseB)]);
    // A System key manager exists on both installations (as an operator would set it up); the project's own travels in the bundle.
    for (const m of [a, b]) expect((await m.request('POST', '/api/v1/key-managers', jwtKeyManager(systemIdp))).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([databaseA?.drop(), databaseB?.drop()]);
  });

  describe('admin API', () => {
    let projectId: string;
    let credentialId: string;
    const put = (settings: unknown) => a.request('PUT', `/api/v1/projects/${projectId}/credentials/${credentialId}/token-settings`, settings);

    beforeAll(async () => {
      projectId = (await a.request('POST', '/api/v1/projects', { name: `admin-api-${suffix}` })).body.id;
      const other = (await a.request('POST', '/api/v1/projects', { name: `other-${suffix}` })).body.id;
      credentialId = (await a.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'client', password: 'client-password-1', issueApiKey: false })).body.id;
      const created = await Promise.all([
        a.request('POST', '/api/v1/key-managers', { ...jwtKeyManager(`theirs-${suffix}`), projectId: other }),
        a.request('POST', '/api/v1/key-managers', { name: `own-tokens-${suffix}`, type: 'builtin' }),
        a.request('POST', '/api/v1/key-managers', {
          name: `opaque-${suffix}`,
          issuer: `https://opaque-${suffix}.example/`,
          introspectionEndpoint: `https://opaque-${suffix}.example/introspect`,
          clientId: 'gateway',
          clientSecret: 'introspection-secret',
          tokenTypes: 'opaque',
        }),
      ]);
      expect(created.map((r) => r.status)).toEqual([201, 201, 201]);
    });

    it.each([
      ['an unknown name', 'nobody-idp', 'no key manager nobody-idp'],
      ["another project's key manager", `theirs-${suffix}`, 'belongs to another project'],
      ['our own token service (builtin)', `own-tokens-${suffix}`, 'signs no assertions'],
      ['an opaque-only key manager', `opaque-${suffix}`, 'cannot verify an assertion'],
    ])('refuses jwtBearer naming %s (422 key_manager_not_usable, the field named, nothing stored)', async (_what, name, message) => {
      const res = await put({ grants: ['client_credentials'], jwtBearer: { keyManagers: [systemIdp, name] } });
      expect(res.status).toBe(422);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body).toMatchObject({ code: 'key_manager_not_usable', errors: [{ path: 'jwtBearer.keyManagers', message: expect.stringContaining(message) }] });
      expect(JSON.stringify(res.body)).not.toMatch(/introspection-secret|stack/);
      expect((await a.request('GET', `/api/v1/projects/${projectId}/credentials/${credentialId}/token-settings`)).body).toBeNull();
    });

    it('stores jwtBearer naming a System key manager', async () => {
      const res = await put({ grants: ['client_credentials'], jwtBearer: { keyManagers: [systemIdp] } });
      expect(res.status).toBe(200);
      expect(res.body.jwtBearer).toEqual({ keyManagers: [systemIdp], subject: 'end_user', maxLifetimeSeconds: 300 });
    });
  });

  describe('APIops', () => {
    it('plans and applies token settings after the credentials and key managers they need, then re-applies as a no-op', async () => {
      const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: bundle() });
      expect(plan.status).toBe(200);
      expect(summary(plan.body.changes)).toEqual([
        `create project ${project}`,
        `create key_manager ${partner}`,
        'create credential backend',
        'create credential web',
        'create credential plain',
        'create token_settings backend',
        'create token_settings web',
      ]);
      expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: bundle() })).status).toBe(200);
      expect(await settingsOf(a, 'backend')).toMatchObject({ ...backendSettings, deletePrevious: false, oidc: null });
      expect(await settingsOf(a, 'web')).toMatchObject({ grants: webSettings.grants, oidc: { ...webSettings.oidc, clientType: 'confidential', requirePkce: true } });
      expect(await settingsOf(a, 'plain')).toBeNull();
      // Audited as the admin API's changes are, with APIops as their source.
      const audit = (await a.request('GET', '/api/v1/audit?limit=50')).body.items.filter((e: any) => e.entity.kind === 'credential_token_settings' && e.actor.source === 'apiops');
      expect(audit.map((e: any) => Object.keys(e.diff).includes('jwtBearer')).sort()).toEqual([false, true]);
      expect(audit.map((e: any) => e.action)).toEqual(['credential_token_settings.create', 'credential_token_settings.create']);
      expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: bundle() })).body.applied).toEqual([]);
    });

    it('round-trips: export -> apply to a fresh installation -> the same settings, and the same export', async () => {
      const exported = await exportOf(a);
      expect(exported.credentials.map((c: any) => [c.username, c.tokenSettings?.grants ?? c.tokenSettings])).toEqual([
        ['backend', backendSettings.grants],
        ['plain', null],
        ['web', webSettings.grants],
      ]);
      const exportedBackend = exported.credentials.find((c: any) => c.username === 'backend');
      // Passwords stay out of an export: the pipeline supplies them again.
      const applied = await b.request('POST', '/api/v1/apiops/apply', {
        bundle: { ...exported, credentials: exported.credentials.map((c: any) => ({ ...c, password: `${c.username}-password-1` })) },
      });
      expect(applied.status).toBe(200);
      for (const username of ['backend', 'web', 'plain']) expect(await settingsOf(b, username)).toEqual(await settingsOf(a, username));
      expect((await exportOf(b)).credentials.find((c: any) => c.username === 'backend')).toEqual(exportedBackend);
      expect(await exportOf(b)).toEqual(exported);
    });

    it('updates field by field, keeps settings a bundle leaves out, and removes them with null', async () => {
      const changed = bundle({}, []);
      (changed.credentials[0] as any).tokenSettings = { ...backendSettings, scopes: ['orders:read'], deletePrevious: true };
      delete (changed.credentials[1] as any).tokenSettings;
      const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: changed });
      expect(summary(plan.body.changes)).toEqual(['update token_settings backend deletePrevious,scopes']);
      expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: changed })).status).toBe(200);
      expect(await settingsOf(a, 'backend')).toMatchObject({ scopes: ['orders:read'], deletePrevious: true });
      expect(await settingsOf(a, 'web')).toMatchObject({ grants: webSettings.grants });

      (changed.credentials[1] as any).tokenSettings = null;
      expect(summary((await a.request('POST', '/api/v1/apiops/apply', { bundle: changed })).body.applied)).toEqual(['delete token_settings web']);
      expect(await settingsOf(a, 'web')).toBeNull();
    });

    it('refuses a bundle whose token settings trust an unknown key manager (422 with the bundle path), writing nothing', async () => {
      const name = `fresh-${suffix}`;
      const bad = {
        ...bundle({ project: { name, description: null }, keyManagers: [] }),
        credentials: [{ username: 'client', tokenSettings: { grants: ['client_credentials'], jwtBearer: { keyManagers: [systemIdp, 'nobody-idp'] } } }],
      };
      for (const step of ['plan', 'apply']) {
        const res = await b.request('POST', `/api/v1/apiops/${step}`, { bundle: bad });
        expect(res.status).toBe(422);
        expect(res.body).toMatchObject({
          code: 'key_manager_not_usable',
          errors: [{ path: 'bundle.credentials.0.tokenSettings.jwtBearer.keyManagers', message: expect.stringContaining('no key manager nobody-idp') }],
        });
      }
      expect(await projectIdOf(b, name)).toBeUndefined();
    });

    it('refuses token settings the admin API refuses: invalid ones at plan (400), an unknown identity source at apply (422), all or nothing', async () => {
      const name = `half-${suffix}`;
      const withSettings = (tokenSettings: unknown) => ({
        ...bundle({ project: { name, description: null }, keyManagers: [] }),
        credentials: [{ username: 'client', password: 'client-password-1', tokenSettings }],
      });
      const invalid = await b.request('POST', '/api/v1/apiops/apply', { bundle: withSettings({ grants: ['authorization_code'] }) });
      expect(invalid.status).toBe(400);
      expect(invalid.body).toMatchObject({ code: 'invalid_bundle', errors: [{ path: 'bundle.credentials.0.tokenSettings.oidc' }] });

      // The project and the credential come first in the batch; the refused settings roll them back.
      const unknownSource = await b.request('POST', '/api/v1/apiops/apply', { bundle: withSettings({ grants: ['password'], identitySources: ['nowhere-ldap'] }) });
      expect(unknownSource.status).toBe(422);
      expect(unknownSource.body).toMatchObject({ code: 'identity_source_not_usable', detail: expect.stringContaining("token_settings 'client' (create)") });
      expect(await projectIdOf(b, name)).toBeUndefined();
    });
  });
});
