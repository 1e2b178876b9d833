import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { policyTypes } from '@idm/policies/schemas';
import { parse } from 'yaml';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { REPO_ROOT, TestPki } from '@idm/test-kit';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { ClientRegistrations } from '../src/client-registration/client-registrations.service';

const suffix = randomBytes(3).toString('hex');
const bundle = (over: Record<string, unknown> = {}) => ({
  apiVersion: 'idm/v1',
  kind: 'ProjectBundle',
  project: { name: `shop-${suffix}`, description: 'Shop APIs' },
  teams: [{ name: 'payments', description: 'Payments team' }],
  roles: [{ name: `auditor-${suffix}`, permissions: ['audit:read', 'proxy:read'] }],
  proxies: [
    {
      name: 'orders',
      team: 'payments',
      basePath: `/orders-${suffix}`,
      upstreamUrl: 'http://127.0.0.1:9/orders',
      methods: ['POST', 'GET'],
      policies: [{ type: 'api-key', config: { header: 'x-key' } }],
      environments: [`prod-${suffix}`],
    },
  ],
  credentials: [
    {
      username: 'checkout',
      team: 'payments',
      password: 'checkout-password',
      roles: ['buyer'],
      metadata: [
        { key: 'tier', value: 'gold' },
        { key: 'upstream-token', value: 'hidden-value', secret: true },
      ],
      // LLM routes: model allow-list and token quotas travel in the bundle like every access rule.
      access: { llm: { models: ['gpt-4o-mini'], tokenQuotas: [{ limit: 100000, period: 'day' }] } },
    },
  ],
  ...over,
});

describe('APIops', () => {
  let databaseA: TestDatabase;
  let databaseB: TestDatabase;
  let a: InProcessManager;
  let b: InProcessManager;

  beforeAll(async () => {
    [databaseA, databaseB] = await Promise.all([createTestDatabase('postgres'), createTestDatabase('postgres')]);
    a = await startInProcessManager(databaseA);
    b = await startInProcessManager(databaseB);
    for (const m of [a, b]) await m.request('POST', '/api/v1/environments', { name: `prod-${suffix}` });
  }, 60000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([databaseA?.drop(), databaseB?.drop()]);
  });

  const auditCount = async (m: InProcessManager) => (await m.request('GET', '/api/v1/audit?limit=500')).body.items.length;

  it('plans, applies in one go, and applies the same bundle a second time as a no-op', async () => {
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: bundle() });
    expect(plan.status).toBe(200);
    expect(plan.body.changes.map((c: any) => `${c.op} ${c.kind} ${c.name}`)).toEqual([
      `create project shop-${suffix}`,
      `create role auditor-${suffix}`,
      'create team payments',
      'create api_proxy orders',
      'create credential checkout',
    ]);
    const before = await auditCount(a);
    const applied = await a.request('POST', '/api/v1/apiops/apply', { bundle: bundle() });
    expect(applied.status).toBe(200);
    const events = (await a.request('GET', '/api/v1/audit?limit=500')).body.items.slice(0, 5);
    expect(events.every((e: any) => e.actor.source === 'apiops')).toBe(true);
    expect(await auditCount(a)).toBe(before + 5);

    const again = await a.request('POST', '/api/v1/apiops/apply', { bundle: bundle() });
    expect(again.body.applied).toEqual([]);
    expect(await auditCount(a)).toBe(before + 5);

    const changed = bundle();
    (changed.proxies[0] as any).upstreamUrl = 'http://127.0.0.1:9/v2';
    (changed.credentials[0] as any).metadata[1].value = 'new-hidden-value';
    (changed.credentials[0] as any).access.llm.tokenQuotas[0].limit = 5000;
    const diff = await a.request('POST', '/api/v1/apiops/plan', { bundle: changed });
    expect(diff.body.changes).toEqual([
      { op: 'update', kind: 'api_proxy', name: 'orders', fields: ['upstreamUrl'] },
      { op: 'update', kind: 'credential', name: 'checkout', fields: ['metadata', 'access'] },
    ]);
  });

  it('creates password-less credentials through the bulk import: one credential.import event, then a no-op', async () => {
    const name = `bulk-${suffix}`;
    const credentials = [
      ...Array.from({ length: 30 }, (_, i) => ({ username: `app-${i}`, roles: ['reader'], metadata: [{ key: 'n', value: String(i) }] })),
      { username: 'human', password: 'human-password' },
    ];
    const bulk = bundle({ project: { name }, teams: [{ name: 'ops' }], roles: [], proxies: [], credentials: credentials.map((c, i) => (i === 0 ? { ...c, team: 'ops' } : c)) });
    const applied = await a.request('POST', '/api/v1/apiops/apply', { bundle: bulk });
    expect(applied.status).toBe(200);
    const events = (await a.request('GET', '/api/v1/audit?limit=4')).body.items;
    expect(events.map((e: any) => e.action)).toEqual(['credential.create', 'credential.import', 'team.create', 'project.create']);
    expect(events[1].actor.source).toBe('apiops');
    expect(events[1].diff.count.new).toBe(30);
    const exported = (await a.request('GET', `/api/v1/projects/${events[3].entity.id}/bundle`)).body;
    expect(exported.credentials).toHaveLength(31);
    expect(exported.credentials.find((c: any) => c.username === 'app-0')).toMatchObject({
      team: 'ops',
      roles: ['reader'],
      metadata: [expect.objectContaining({ key: 'n', value: '0' })],
    });
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: bulk })).body.applied).toEqual([]);
  }, 60000);

  it('carries the brute-force settings: created, exported, kept when left out, updated field by field, removed with null', async () => {
    const name = `bf-${suffix}`;
    const base = bundle({ project: { name }, teams: [], roles: [], proxies: [], credentials: [] });
    const settings = { perCredential: 5, windowSeconds: 600 };
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: { ...base, bruteForceSettings: settings } });
    expect(plan.body.changes).toEqual([
      { op: 'create', kind: 'project', name },
      { op: 'create', kind: 'brute_force_settings', name },
    ]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: { ...base, bruteForceSettings: settings } })).status).toBe(200);
    const projectId = (await a.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === name).id;
    expect((await a.request('GET', `/api/v1/projects/${projectId}/brute-force-settings`)).body).toEqual(settings);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/bundle`)).body.bruteForceSettings).toEqual(settings);
    // Left out: kept as they are.
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: base })).body.applied).toEqual([]);
    const changed = { ...base, bruteForceSettings: { perCredential: 5, windowSeconds: 900, lockoutSeconds: 60 } };
    expect((await a.request('POST', '/api/v1/apiops/plan', { bundle: changed })).body.changes).toEqual([
      { op: 'update', kind: 'brute_force_settings', name, fields: ['lockoutSeconds', 'windowSeconds'] },
    ]);
    const bad = await a.request('POST', '/api/v1/apiops/apply', { bundle: { ...base, bruteForceSettings: { perAddress: 3 } } });
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_bundle']);
    expect(bad.body.errors.some((e: any) => e.path.startsWith('bundle.bruteForceSettings'))).toBe(true);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: { ...base, bruteForceSettings: null } })).body.applied).toEqual([
      { op: 'delete', kind: 'brute_force_settings', name },
    ]);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/brute-force-settings`)).body).toBeNull();
    const [removed] = (await a.request('GET', '/api/v1/audit?entityKind=brute_force_settings&limit=1')).body.items;
    expect(removed).toMatchObject({ action: 'brute_force_settings.delete', actor: { source: 'apiops' }, entity: { id: projectId } });
  });

  it('carries the end-user self-registration switch: exported, kept when left out, updated, audited as the APIops change', async () => {
    const name = `eur-${suffix}`;
    const base = bundle({ project: { name }, teams: [], roles: [], proxies: [], credentials: [] });
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: base })).status).toBe(200);
    const projectId = (await a.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === name).id;
    expect((await a.request('GET', `/api/v1/projects/${projectId}/bundle`)).body.endUserRegistration).toEqual({ selfRegistration: false, requireVerifiedEmail: false });
    const on = { ...base, endUserRegistration: { selfRegistration: true } };
    expect((await a.request('POST', '/api/v1/apiops/plan', { bundle: on })).body.changes).toEqual([
      { op: 'update', kind: 'end_user_registration', name, fields: ['selfRegistration'] },
    ]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: on })).status).toBe(200);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/end-user-registration`)).body).toEqual({ selfRegistration: true, requireVerifiedEmail: false });
    expect((await a.request('GET', `/api/v1/projects/${projectId}/bundle`)).body.endUserRegistration).toEqual({ selfRegistration: true, requireVerifiedEmail: false });
    // Left out: kept; the same value: nothing to do.
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: base })).body.applied).toEqual([]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: on })).body.applied).toEqual([]);
    const bad = await a.request('POST', '/api/v1/apiops/apply', { bundle: { ...base, endUserRegistration: { selfRegistration: 'yes' } } });
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_bundle']);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/end-user-registration`)).body).toEqual({ selfRegistration: true, requireVerifiedEmail: false });
    const [audited] = (await a.request('GET', '/api/v1/audit?entityKind=end_user_registration&limit=1')).body.items;
    expect(audited).toMatchObject({ action: 'end_user_registration.create', actor: { source: 'apiops' }, entity: { id: projectId } });
    // "Require a verified email to sign in" travels beside it: planned as that field, applied, audited, exported.
    const verified = { ...base, endUserRegistration: { selfRegistration: true, requireVerifiedEmail: true } };
    expect((await a.request('POST', '/api/v1/apiops/plan', { bundle: verified })).body.changes).toEqual([
      { op: 'update', kind: 'end_user_registration', name, fields: ['requireVerifiedEmail'] },
    ]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: verified })).status).toBe(200);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/end-user-registration`)).body).toEqual({ selfRegistration: true, requireVerifiedEmail: true });
    expect((await a.request('GET', `/api/v1/projects/${projectId}/bundle`)).body.endUserRegistration).toEqual({ selfRegistration: true, requireVerifiedEmail: true });
    const [updated] = (await a.request('GET', `/api/v1/audit?entityKind=end_user_registration&entityId=${projectId}&limit=1`)).body.items;
    expect(updated).toMatchObject({ action: 'end_user_registration.update', actor: { source: 'apiops' }, diff: { requireVerifiedEmail: { old: false, new: true } } });
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: verified })).body.applied).toEqual([]);
  });

  it('carries the dynamic client registration switch, and leaves clients that registered themselves (RFC 7591) and end users out of export, updates and prune', async () => {
    const name = `dcr-${suffix}`;
    const base = bundle({ project: { name }, teams: [], roles: [], proxies: [], credentials: [{ username: 'kept-by-bundle', password: 'kept-password-1' }] });
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: base })).status).toBe(200);
    const projectId = (await a.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === name).id;
    expect((await a.request('GET', `/api/v1/projects/${projectId}/bundle`)).body.clientRegistration).toEqual({ enabled: false });
    const on = { ...base, clientRegistration: { enabled: true } };
    expect((await a.request('POST', '/api/v1/apiops/plan', { bundle: on })).body.changes).toEqual([
      { op: 'update', kind: 'client_registration_settings', name, fields: ['enabled'] },
    ]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: on })).status).toBe(200);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/client-registration`)).body).toEqual({ enabled: true });
    const [audited] = (await a.request('GET', `/api/v1/audit?entityKind=client_registration_settings&entityId=${projectId}&limit=1`)).body.items;
    expect(audited).toMatchObject({ action: 'client_registration_settings.update', actor: { source: 'apiops' }, diff: { enabled: { old: false, new: true } } });
    // Left out: kept; the same value: nothing to do; not a boolean: refused, nothing changed.
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: base })).body.applied).toEqual([]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: on })).body.applied).toEqual([]);
    const bad = await a.request('POST', '/api/v1/apiops/apply', { bundle: { ...base, clientRegistration: { enabled: 'yes' } } });
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_bundle']);

    // A client registers itself through the Manager's registration decision (what the Gateways ask over the bus).
    const iat = (await a.request('POST', `/api/v1/projects/${projectId}/initial-access-tokens`, {})).body.token;
    const reply = await a.app.get(ClientRegistrations).handle({
      environment: `prod-${suffix}`,
      operation: 'register',
      endpoint: 'https://op.example/credential/register',
      token: iat,
      clientId: null,
      metadata: { redirect_uris: ['https://rp.example/cb'], client_name: 'Self-registered' },
    });
    expect(reply.status).toBe(201);
    const registered = (await a.request('GET', `/api/v1/projects/${projectId}/credentials/${reply.body!.client_id as string}`)).body;
    expect(registered.username).toMatch(/^dcr-/);
    // An operator-made credential the bundle does not list: what prune deletes (the control).
    expect((await a.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'stray', password: 'stray-password-1' })).status).toBe(201);
    // An end user (a person, not configuration): never exported, never pruned, never taken over.
    const ada = await a.request('POST', `/api/v1/projects/${projectId}/users`, { username: 'ada', email: 'ada@example.com' });
    expect(ada.status).toBe(201);

    const exported = (await a.request('GET', `/api/v1/projects/${projectId}/bundle`)).body;
    expect(exported.credentials.map((c: any) => c.username)).toEqual(['kept-by-bundle', 'stray']);
    const pruning = await a.request('POST', '/api/v1/apiops/plan', { bundle: on, prune: true });
    expect(pruning.body.changes).toEqual([{ op: 'delete', kind: 'credential', name: 'stray' }]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: on, prune: true })).status).toBe(200);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/credentials/${registered.id}`)).status).toBe(200);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/users/${ada.body.id}`)).status).toBe(200);
    // Its registration still works: the registrant reads it with its registration access token.
    const read = await a.app.get(ClientRegistrations).handle({
      environment: `prod-${suffix}`,
      operation: 'read',
      endpoint: 'https://op.example/credential/register',
      token: reply.body!.registration_access_token as string,
      clientId: registered.id,
      metadata: null,
    });
    expect(read.status).toBe(200);

    // A bundle may not take a registered client over: named, it is refused at its path and nothing changes.
    const takeover = await a.request('POST', '/api/v1/apiops/apply', {
      bundle: { ...on, credentials: [...on.credentials, { username: registered.username, password: 'taken-over-1' }] },
    });
    expect([takeover.status, takeover.body.code]).toEqual([400, 'invalid_bundle']);
    expect(takeover.body.errors).toEqual([{ path: 'bundle.credentials.1.username', message: expect.stringContaining('registered itself (RFC 7591)') }]);
    expect((await a.request('GET', `/api/v1/projects/${projectId}/credentials/${registered.id}`)).body.updatedAt).toBe(registered.updatedAt);
    const userTakeover = await a.request('POST', '/api/v1/apiops/apply', { bundle: { ...on, credentials: [...on.credentials, { username: 'ada', password: 'taken-over-1' }] } });
    expect(userTakeover.body.errors).toEqual([{ path: 'bundle.credentials.1.username', message: expect.stringContaining('an end user of the project') }]);
  });

  it('names a credential listed twice in a bundle', async () => {
    const twice = bundle({ project: { name: `twice-${suffix}` }, teams: [], roles: [], proxies: [], credentials: [{ username: 'a' }, { username: 'b' }, { username: 'a' }] });
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: twice });
    expect(plan.status).toBe(400);
    expect(plan.body.errors).toEqual([{ path: 'bundle.credentials.2', message: "duplicate 'a'" }]);
  });

  it('round-trips: export -> apply to an empty installation -> export is identical', async () => {
    const projectA = (await a.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === `shop-${suffix}`);
    const first = await a.request('GET', `/api/v1/projects/${projectA.id}/bundle`);
    expect(first.status).toBe(200);
    expect(JSON.stringify(first.body)).not.toMatch(/hidden-value|checkout-password|enc:v1/);
    expect(first.body.credentials[0].metadata[1]).toEqual({ key: 'upstream-token', secret: true, includeInJwt: false, includeInTokenResponse: false });
    // A secret without a value cannot be created anywhere new: supply it, as a pipeline would.
    const toApply = structuredClone(first.body);
    toApply.credentials[0].metadata[1].value = 'hidden-value';
    const applied = await b.request('POST', '/api/v1/apiops/apply', { bundle: toApply });
    expect(applied.status).toBe(200);
    const projectB = (await b.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === `shop-${suffix}`);
    const second = await b.request('GET', `/api/v1/projects/${projectB.id}/bundle`);
    expect(second.body).toEqual(first.body);
    const yaml = await b.request('GET', `/api/v1/projects/${projectB.id}/bundle?format=yaml`);
    expect(yaml.headers['content-type']).toContain('application/yaml');
    expect(parse(yaml.body)).toEqual(first.body);
  });

  it.each([
    ['a malformed bundle', { apiVersion: 'idm/v1', kind: 'ProjectBundle' }, 'invalid_bundle', 'bundle.project'],
    ['an unknown kind', { ...bundle(), kind: 'Spaceship' }, 'invalid_bundle', 'bundle.kind'],
    ['an unknown field', { ...bundle(), extra: 1 }, 'invalid_bundle', 'bundle'],
    ['a reference to a missing team', { ...bundle(), project: { name: `other-${suffix}` }, teams: [] }, 'invalid_bundle', 'bundle.proxies.0.team'],
    [
      'a missing environment',
      { ...bundle(), project: { name: `other-${suffix}` }, proxies: [{ ...bundle().proxies[0], environments: ['nowhere'] }] },
      'invalid_bundle',
      'bundle.proxies.0.environments.0',
    ],
    [
      'a bad policy config',
      { ...bundle(), project: { name: `other-${suffix}` }, proxies: [{ ...bundle().proxies[0], policies: [{ type: 'api-key', config: { header: 42 } }] }] },
      'invalid_bundle',
      'bundle.proxies.0.policies.0.config.header',
    ],
  ])('rejects %s with a 400 naming the path, applying nothing', async (_label, body, code, path) => {
    const before = await auditCount(a);
    const res = await a.request('POST', '/api/v1/apiops/apply', { bundle: body });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
    expect(res.body.errors.some((e: any) => e.path.startsWith(path))).toBe(true);
    expect(await auditCount(a)).toBe(before);
  });

  it('rolls back everything when one change fails half-way (base path taken)', async () => {
    const other = `partial-${suffix}`;
    const conflicting = bundle({ project: { name: other }, roles: [], proxies: [{ ...bundle().proxies[0], name: 'dup' }], credentials: [] });
    const res = await a.request('POST', '/api/v1/apiops/apply', { bundle: conflicting });
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain("api_proxy 'dup'");
    expect((await a.request('GET', '/api/v1/projects')).body.some((p: any) => p.name === other)).toBe(false);
  });

  it("applies under the caller's permissions: an editor cannot create roles through a bundle", async () => {
    const project = (await a.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === `shop-${suffix}`);
    const roles = (await a.request('GET', '/api/v1/roles')).body;
    const editor = (await a.request('POST', '/api/v1/users', { username: `ed${suffix}`, password: 'editor-password' })).body;
    await a.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r: any) => r.name === 'project-editor').id,
      subject: { type: 'user', id: editor.id },
      scope: { type: 'project', id: project.id },
    });
    const token = (await a.request('POST', '/api/v1/auth/login', { username: `ed${suffix}`, password: 'editor-password' }, { token: null })).body.token;
    const escalating = bundle({ roles: [{ name: `sneaky-${suffix}`, permissions: ['role:bind'] }] });
    const res = await a.request('POST', '/api/v1/apiops/apply', { bundle: escalating }, { token });
    expect(res.status).toBe(403);
    expect(res.body.permission).toBe('role:write');
    expect((await a.request('GET', '/api/v1/roles')).body.some((r: any) => r.name === `sneaky-${suffix}`)).toBe(false);
  });

  it('drives plan, apply and export from the CLI with readable errors and exit codes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'apiops-'));
    const baseUrl = await listen(a);
    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, [join(REPO_ROOT, 'apps/manager/dist/cli/apiops.js'), ...args], {
        env: { ...process.env, IDM_MANAGER_URL: baseUrl, IDM_USERNAME: ADMIN.username, IDM_PASSWORD: ADMIN.password },
      }).then(
        (r) => ({ code: 0, ...r }),
        (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
      );
    const exported = await cli(['export', '--project', `shop-${suffix}`, '--out', join(dir, 'shop.yaml')]);
    expect(exported.code).toBe(0);
    const written = parse(readFileSync(join(dir, 'shop.yaml'), 'utf8'));
    expect(written.project.name).toBe(`shop-${suffix}`);
    const plan = await cli(['plan', '--file', join(dir, 'shop.yaml')]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('no changes');
    written.proxies[0].upstreamUrl = 'http://127.0.0.1:9/v3';
    writeFileSync(join(dir, 'shop.json'), JSON.stringify(written));
    const apply = await cli(['apply', '--file', join(dir, 'shop.json')]);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('update api_proxy orders (upstreamUrl)');
    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: idm/v1\nkind: Nope\n');
    const bad = await cli(['apply', '--file', join(dir, 'bad.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bundle.kind');
    const broken = await cli(['plan', '--file', join(dir, 'missing.yaml')]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/cannot read/);
    const usage = await cli(['frobnicate']);
    expect(usage.code).toBe(2);
  }, 60000);
});

/**
 * One config per policy type, set away from its defaults and with keys in an order JSONB does not
 * keep; a type without one fails the test below, so every type's export is re-applied.
 */
const POLICY_SAMPLES: Record<string, Record<string, unknown>> = {
  'api-key': { stripCredential: false, queryParam: 'key', header: 'X-Key' },
  'basic-auth': { stripAuthorization: false, realm: 'shop' },
  'rate-limit': { limits: [{ limit: 10, windowSeconds: 60 }], keyBy: 'ip' },
  'jwt-auth': {
    clockSkewSeconds: 10,
    required: { roles: [], scopes: ['orders:read'] },
    claimHeaders: { sub: 'X-Sub' },
    tokenService: { clientSecret: 'jwt-client-secret', clientId: `jwt-${suffix}`, accessTokenLifetime: { unit: 'minutes', amount: 5 } },
  },
  'oauth2-auth': {
    methods: { post: { scopes: ['orders:write'] } },
    tokenService: { clientId: `oauth-${suffix}`, clientSecret: 'oauth-client-secret', cors: { origins: ['https://shop.example'] } },
  },
  'digest-auth': { stripAuthorization: false, nonceLifetimeSeconds: 60, algorithms: ['SHA-256'] },
  'base64-auth': { realm: 'shop', passwordCheck: true, header: 'X-Credentials' },
  'mtls-auth': { match: 'either' },
  // Keys from a partner JWKS here; keys from project secrets (named in bundles) in 'APIops key managers and project secrets'.
  'jose-implementation': { encrypt: { alg: 'RSA-OAEP-256', enc: 'A256GCM', key: { source: 'jwks', url: 'https://partner.example/jwks.json' } } },
  'jose-validation': { verify: { key: { source: 'jwks', url: 'https://partner.example/jwks.json', cacheTtlSeconds: 600 }, algorithms: ['ES256'] } },
  'llm-route': { projectTokenQuotas: [{ limit: 1000000, period: 'month' }], injectStreamUsage: false, onStoreUnavailable: 'deny' },
  // Its cookie key is a project secret, named in the bundle (listed in the test's `secrets`).
  oidc: { issuer: 'https://login.example.com/realms/shop', clientId: 'shop-web', cookieSecretName: 'rp-cookie', scopes: ['openid', 'email'], cookieName: 'SHOP_SESSION' },
};

describe('APIops re-applying an export', () => {
  const env = `idem-${suffix}`;
  let database: TestDatabase;
  let m: InProcessManager;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    await m.request('POST', '/api/v1/environments', { name: env });
  }, 60000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  });

  const auditCount = async () => (await m.request('GET', '/api/v1/audit?limit=500')).body.items.length;
  const revision = async () => (await m.request('GET', '/api/v1/environments')).body.find((e: any) => e.name === env).revision;
  const exportOf = async (name: string, format = 'json') => {
    const project = (await m.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === name);
    return (await m.request('GET', `/api/v1/projects/${project.id}/bundle?format=${format}`)).body;
  };

  it('changes nothing for a proxy of every policy type, token-service secrets included', async () => {
    expect(Object.keys(POLICY_SAMPLES).sort()).toEqual(policyTypes().sort());
    const name = `every-policy-${suffix}`;
    const written = bundle({
      project: { name },
      teams: [],
      roles: [],
      credentials: [],
      secrets: [{ name: 'rp-cookie', kind: 'shared-secret', material: randomBytes(32).toString('base64url') }],
      proxies: Object.entries(POLICY_SAMPLES).map(([type, config]) => ({
        name: type,
        basePath: `/${type}-${suffix}`,
        upstreamUrl: 'http://127.0.0.1:9/',
        methods: ['GET'],
        policies: [{ type, config }],
        environments: [env],
      })),
    });
    expect((await m.request('POST', '/api/v1/apiops/apply', { bundle: written })).status).toBe(200);
    const exported = await exportOf(name);
    expect(JSON.stringify(exported)).not.toMatch(/client-secret|enc:v1/);
    const [auditBefore, revisionBefore] = [await auditCount(), await revision()];

    // The export (JSON and YAML), twice, and the bundle as first written (plaintext secrets that match).
    for (const again of [exported, exported, parse(await exportOf(name, 'yaml')), written]) {
      const res = await m.request('POST', '/api/v1/apiops/apply', { bundle: again });
      expect(res.status).toBe(200);
      expect(res.body.applied).toEqual([]);
    }
    expect(await auditCount()).toBe(auditBefore);
    expect(await revision()).toBe(revisionBefore);
    expect(await exportOf(name)).toEqual(exported);

    // A new client secret is still a change, and an export without it still works afterwards.
    const rotated = structuredClone(exported);
    rotated.proxies.find((p: any) => p.name === 'jwt-auth').policies[0].config.tokenService.clientSecret = 'another-secret';
    const plan = await m.request('POST', '/api/v1/apiops/plan', { bundle: rotated });
    expect(plan.body.changes).toEqual([{ op: 'update', kind: 'api_proxy', name: 'jwt-auth', fields: ['policies'] }]);
    // Sealed text is refused as in the REST API, at the bundle's path.
    const sealed = structuredClone(exported);
    sealed.proxies.find((p: any) => p.name === 'jwt-auth').policies[0].config.tokenService.clientSecret = 'enc:v1:m1:AAAA';
    const refused = await m.request('POST', '/api/v1/apiops/plan', { bundle: sealed });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((e: any) => e.path)).toEqual([
      `bundle.proxies.${Object.keys(POLICY_SAMPLES).sort().indexOf('jwt-auth')}.policies.0.config.tokenService.clientSecret`,
    ]);
    // Where no secret is stored (another project, a new installation) the export needs one added, as a pipeline would.
    const elsewhere = {
      ...structuredClone(exported),
      project: { name: `copy-${suffix}`, description: null },
      secrets: [],
      proxies: exported.proxies.filter((p: any) => p.name === 'oauth2-auth').map((p: any) => ({ ...p, basePath: `/copy-${suffix}` })),
    };
    const missing = await m.request('POST', '/api/v1/apiops/plan', { bundle: elsewhere });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: any) => e.path)).toEqual(['bundle.proxies.0.policies.0.config.tokenService.clientSecret']);
  }, 60000);

  it('writes no audit row for a REST update that changes nothing', async () => {
    const project = (await m.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === `every-policy-${suffix}`);
    const proxy = (await m.request('GET', `/api/v1/projects/${project.id}/proxies`)).body.find((p: any) => p.name === 'digest-auth');
    const before = await auditCount();
    const same = await m.request('PATCH', `/api/v1/projects/${project.id}/proxies/${proxy.id}`, { upstreamUrl: proxy.upstreamUrl, policies: proxy.policies });
    expect(same.status).toBe(200);
    expect(await auditCount()).toBe(before);
    await m.request('PATCH', `/api/v1/projects/${project.id}/proxies/${proxy.id}`, { upstreamUrl: 'http://127.0.0.1:9/v2' });
    expect(await auditCount()).toBe(before + 1);
  });

  it('exports YAML that strict parsers read: C1 controls, DEL, NEL, line/paragraph separators and BOM escaped', async () => {
    const name = `odd-text-${suffix}`;
    const description = 'c1\u0080\u009f del\u007f nel\u0085 ls\u2028 ps\u2029 bom\ufeff nbsp\u00a0 end';
    const written = bundle({
      project: { name, description },
      teams: [],
      credentials: [],
      proxies: [],
      roles: [{ name: `odd-${suffix}`, description, permissions: ['audit:read'] }],
    });
    expect((await m.request('POST', '/api/v1/apiops/apply', { bundle: written })).status).toBe(200);
    const yaml: string = await exportOf(name, 'yaml');
    // PyYAML refuses a document holding any of these raw; YAML 1.1 parsers turn NEL/LS/PS into line breaks.
    expect(yaml).not.toMatch(/[\u007f-\u009f\u2028\u2029\ufeff]/);
    expect(yaml).toContain(String.raw`c1\u0080\u009f del\u007f nel\u0085 ls\u2028 ps\u2029 bom\ufeff`);
    const parsed = parse(yaml);
    expect(parsed).toEqual(await exportOf(name));
    expect(parsed.project.description).toBe(description);
    // A custom role is in every project's bundle: the other project's YAML export stays readable too.
    expect(parse(await exportOf(`every-policy-${suffix}`, 'yaml')).roles.find((r: any) => r.name === `odd-${suffix}`).description).toBe(description);
  });
});

async function listen(m: InProcessManager): Promise<string> {
  await m.app.listen(0, '127.0.0.1');
  const address = m.app.getHttpServer().address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

describe('APIops key managers and project secrets', () => {
  const env = `kms-${suffix}`;
  const project = `idp-shop-${suffix}`;
  const idp = `idp-${suffix}`;
  let databaseA: TestDatabase;
  let databaseB: TestDatabase;
  let a: InProcessManager;
  let b: InProcessManager;
  const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const hmac = randomBytes(32).toString('base64url');
  const withSecrets = () => ({
    apiVersion: 'idm/v1',
    kind: 'ProjectBundle',
    project: { name: project, description: null },
    teams: [{ name: 'edge', description: null }],
    secrets: [
      { name: 'signer', kind: 'private-key', material: ecPem, kid: 'signer-1' },
      { name: 'partner-hmac', team: 'edge', kind: 'shared-secret', material: hmac },
    ],
    keyManagers: [
      {
        name: idp,
        issuer: `https://${idp}.example/`,
        jwksUri: `https://${idp}.example/jwks`,
        introspectionEndpoint: `https://${idp}.example/introspect`,
        clientId: 'gateway',
        clientSecret: 'km-client-secret',
        tokenTypes: 'both',
        audiences: ['orders'],
      },
    ],
    proxies: [
      {
        name: 'orders',
        basePath: `/kms-orders-${suffix}`,
        upstreamUrl: 'http://127.0.0.1:9/',
        methods: ['GET'],
        environments: [env],
        policies: [
          { type: 'jwt-auth', config: { keyManagers: [idp] } },
          { type: 'jose-implementation', config: { sign: { alg: 'ES256', key: { source: 'secret', secretName: 'signer' } } } },
        ],
      },
    ],
  });
  const projectId = async (m: InProcessManager) => (await m.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === project).id;
  const exportOf = async (m: InProcessManager) => (await m.request('GET', `/api/v1/projects/${await projectId(m)}/bundle`)).body;
  const summary = (changes: any[]) => changes.map((c) => `${c.op} ${c.kind} ${c.name}${c.fields ? ` ${c.fields.join(',')}` : ''}`);

  beforeAll(async () => {
    [databaseA, databaseB] = await Promise.all([createTestDatabase('postgres'), createTestDatabase('postgres')]);
    a = await startInProcessManager(databaseA);
    b = await startInProcessManager(databaseB);
    for (const m of [a, b]) await m.request('POST', '/api/v1/environments', { name: env });
  }, 120000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([databaseA?.drop(), databaseB?.drop()]);
  });

  it('creates secrets and key managers before the proxies that name them, and stores the proxies by id', async () => {
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: withSecrets() });
    expect(plan.status).toBe(200);
    expect(summary(plan.body.changes)).toEqual([
      `create project ${project}`,
      'create team edge',
      'create project_secret signer',
      'create project_secret partner-hmac',
      `create key_manager ${idp}`,
      'create api_proxy orders',
    ]);
    const applied = await a.request('POST', '/api/v1/apiops/apply', { bundle: withSecrets() });
    expect(applied.status).toBe(200);
    const id = await projectId(a);
    const [secrets, keyManagers, proxies] = await Promise.all(
      [`/api/v1/projects/${id}/secrets`, '/api/v1/key-managers', `/api/v1/projects/${id}/proxies`].map(async (url) => (await a.request('GET', url)).body),
    );
    const orders = proxies.find((p: any) => p.name === 'orders');
    expect(orders.policies[0].config.keyManagers).toEqual([keyManagers.find((k: any) => k.name === idp).id]);
    expect(orders.policies[1].config.sign.key).toEqual({ source: 'secret', secretId: secrets.find((s: any) => s.name === 'signer').id });
    expect(keyManagers.find((k: any) => k.name === idp)).toMatchObject({ projectId: id, hasClientSecret: true, audiences: ['orders'] });
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: withSecrets() })).body.applied).toEqual([]);
  });

  it('exports names instead of ids and never a secret value; the export re-applies as a no-op', async () => {
    const exported = await exportOf(a);
    const text = JSON.stringify(exported);
    for (const secret of ['km-client-secret', hmac, 'PRIVATE KEY', 'enc:v1', '"d":']) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
    expect(exported.secrets).toEqual([
      { name: 'partner-hmac', description: null, team: 'edge', kind: 'shared-secret' },
      { name: 'signer', description: null, team: null, kind: 'private-key' },
    ]);
    expect(exported.keyManagers).toEqual([expect.objectContaining({ name: idp, clientId: 'gateway', tokenTypes: 'both', tls: {} })]);
    expect(exported.keyManagers[0].clientSecret).toBeUndefined();
    expect(exported.proxies[0].policies).toEqual([
      expect.objectContaining({ type: 'jwt-auth', config: expect.objectContaining({ keyManagers: [idp] }) }),
      expect.objectContaining({
        type: 'jose-implementation',
        config: expect.objectContaining({ sign: expect.objectContaining({ key: { source: 'secret', secretName: 'signer' } }) }),
      }),
    ]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: exported })).body.applied).toEqual([]);
  });

  it('moves to another installation: the export asks for the withheld values, then applies and exports the same', async () => {
    const exported = await exportOf(a);
    const refused = await b.request('POST', '/api/v1/apiops/apply', { bundle: exported });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('invalid_bundle');
    expect(refused.body.errors.map((e: any) => e.path).sort()).toEqual(['bundle.keyManagers.0.clientId', 'bundle.secrets.0.material', 'bundle.secrets.1.material']);
    expect((await b.request('GET', '/api/v1/projects')).body.some((p: any) => p.name === project)).toBe(false);
    // The pipeline supplies them from its vault, as it does credentials' secret metadata.
    const supplied = structuredClone(exported);
    supplied.secrets.find((s: any) => s.name === 'signer').material = ecPem;
    supplied.secrets.find((s: any) => s.name === 'signer').kid = 'signer-1';
    supplied.secrets.find((s: any) => s.name === 'partner-hmac').material = hmac;
    supplied.keyManagers[0].clientSecret = 'km-client-secret';
    expect((await b.request('POST', '/api/v1/apiops/apply', { bundle: supplied })).status).toBe(200);
    expect(await exportOf(b)).toEqual(exported);
    // The supplied values match what is stored: applying them again changes nothing.
    expect((await b.request('POST', '/api/v1/apiops/apply', { bundle: supplied })).body.applied).toEqual([]);
  });

  it('rotates a secret whose supplied material changed, updates a key manager, keeps what the bundle withholds', async () => {
    const next = structuredClone(await exportOf(a));
    next.secrets.find((s: any) => s.name === 'signer').material = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    next.keyManagers[0].audiences = ['orders', 'payments'];
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: next });
    expect(summary(plan.body.changes)).toEqual(['update project_secret signer material', `update key_manager ${idp} audiences`]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: next })).status).toBe(200);
    const id = await projectId(a);
    const signer = (await a.request('GET', `/api/v1/projects/${id}/secrets`)).body.find((s: any) => s.name === 'signer');
    expect(signer.versions).toHaveLength(2);
    expect((await a.request('GET', '/api/v1/key-managers')).body.find((k: any) => k.name === idp)).toMatchObject({ audiences: ['orders', 'payments'], hasClientSecret: true });
  });

  it.each([
    ['an unknown key manager', (x: any) => (x.proxies[0].policies[0].config.keyManagers = ['nowhere']), 'bundle.proxies.0.policies.0.config.keyManagers.0'],
    ['an unknown secret', (x: any) => (x.proxies[0].policies[1].config.sign.key.secretName = 'nowhere'), 'bundle.proxies.0.policies.1.config.sign.key.secretName'],
    ['a secret listed twice', (x: any) => x.secrets.push(x.secrets[0]), 'bundle.secrets.2'],
    ['bad key material', (x: any) => (x.secrets[0].material = 'not a key'), 'bundle.secrets.0.material'],
    ['a key manager breaking its rules', (x: any) => (x.keyManagers[0].algorithms = ['HS256']), 'bundle.keyManagers.0.algorithms'],
  ])('rejects %s with a 400 naming the path, applying nothing', async (_label, change, path) => {
    const bad: any = withSecrets();
    bad.project.name = `bad-${project}`;
    bad.keyManagers[0].name = `bad-${idp}`;
    bad.keyManagers[0].issuer = `https://bad-${idp}.example/`;
    bad.proxies[0].policies[0].config.keyManagers = [`bad-${idp}`];
    bad.proxies[0].basePath = `/bad-${suffix}`;
    change(bad);
    const res = await a.request('POST', '/api/v1/apiops/apply', { bundle: bad });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_bundle');
    expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    expect((await a.request('GET', '/api/v1/projects')).body.some((p: any) => p.name === bad.project.name)).toBe(false);
  });

  it('prunes secrets and key managers the bundle no longer lists, after the proxies naming them', async () => {
    const bundle = { ...(await exportOf(a)), secrets: [], keyManagers: [], proxies: [] };
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle, prune: true });
    expect(summary(plan.body.changes)).toEqual(['delete api_proxy orders', `delete key_manager ${idp}`, 'delete project_secret partner-hmac', 'delete project_secret signer']);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle, prune: true })).status).toBe(200);
    const id = await projectId(a);
    expect((await a.request('GET', `/api/v1/projects/${id}/secrets`)).body).toEqual([]);
    expect((await a.request('GET', '/api/v1/key-managers')).body.some((k: any) => k.name === idp)).toBe(false);
  });
});

describe('APIops identity sources', () => {
  const project = `fed-shop-${suffix}`;
  // Names are unique installation-wide; listed in the order an export writes them (by name).
  const direct = `ad-${suffix}`;
  const search = `dir-${suffix}`;
  const legacy = `legacy-${suffix}`;
  const BIND_PASSWORD = `bind-${randomBytes(8).toString('hex')}`;
  const DB_PASSWORD = `db-${randomBytes(8).toString('hex')}`;
  let databaseA: TestDatabase;
  let databaseB: TestDatabase;
  let a: InProcessManager;
  let b: InProcessManager;
  const withSources = (): any => ({
    apiVersion: 'idm/v1',
    kind: 'ProjectBundle',
    project: { name: project, description: null },
    identitySources: [
      { name: direct, type: 'ldap', config: { url: 'ldaps://ad.example.org:636', bind: { mode: 'direct', dnTemplate: 'uid={username},ou=people,dc=example,dc=org' } } },
      {
        name: search,
        type: 'ldap',
        config: { url: 'ldaps://ldap.example.org:636', bind: { mode: 'search', bindDn: 'cn=svc,dc=example,dc=org', baseDn: 'ou=people,dc=example,dc=org' } },
        secret: BIND_PASSWORD,
        roleMappings: { admins: ['admin'] },
      },
      {
        name: legacy,
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
        secret: DB_PASSWORD,
      },
    ],
    proxies: [
      {
        name: 'staff',
        basePath: `/fed-staff-${suffix}`,
        upstreamUrl: 'http://127.0.0.1:9/',
        methods: ['GET'],
        policies: [{ type: 'basic-auth', config: { identitySources: [search, legacy] } }],
      },
    ],
  });
  const projectId = async (m: InProcessManager) => (await m.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === project)?.id;
  const exportOf = async (m: InProcessManager, token?: string) => m.request('GET', `/api/v1/projects/${await projectId(m)}/bundle`, undefined, token ? { token } : undefined);
  const sourcesOf = async (m: InProcessManager) => (await m.request('GET', '/api/v1/identity-sources')).body.filter((s: any) => s.name.endsWith(suffix));
  const summary = (changes: any[]) => changes.map((c) => `${c.op} ${c.kind} ${c.name}${c.fields ? ` ${c.fields.join(',')}` : ''}`);
  const auditCount = async (m: InProcessManager) => (await m.request('GET', '/api/v1/audit?limit=500')).body.items.length;

  beforeAll(async () => {
    [databaseA, databaseB] = await Promise.all([createTestDatabase('postgres'), createTestDatabase('postgres')]);
    a = await startInProcessManager(databaseA);
    b = await startInProcessManager(databaseB);
  }, 120000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([databaseA?.drop(), databaseB?.drop()]);
  });

  it('creates the sources before the proxy that names them, in the project, secrets sealed', async () => {
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: withSources() });
    expect(plan.status).toBe(200);
    expect(summary(plan.body.changes)).toEqual([
      `create project ${project}`,
      `create identity_source ${direct}`,
      `create identity_source ${search}`,
      `create identity_source ${legacy}`,
      'create api_proxy staff',
    ]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: withSources() })).status).toBe(200);
    const id = await projectId(a);
    const sources = await sourcesOf(a);
    expect(sources.map((s: any) => [s.name, s.projectId, s.hasSecret])).toEqual([
      [direct, id, false],
      [search, id, true],
      [legacy, id, true],
    ]);
    expect(JSON.stringify(sources)).not.toContain(BIND_PASSWORD);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: withSources() })).body.applied).toEqual([]);
  });

  it('exports the sources by name without their secrets; the export re-applies as a no-op and keeps the sealed secrets', async () => {
    const before = await auditCount(a);
    const exported = (await exportOf(a)).body;
    const text = JSON.stringify(exported);
    for (const secret of [BIND_PASSWORD, DB_PASSWORD, 'enc:v1']) expect(text).not.toContain(secret);
    expect(exported.identitySources.map((s: any) => [s.name, s.type, 'secret' in s ? s.secret : 'withheld'])).toEqual([
      [direct, 'ldap', null],
      [search, 'ldap', 'withheld'],
      [legacy, 'sql', 'withheld'],
    ]);
    expect(exported.identitySources[1]).toMatchObject({ roleMappings: { admins: ['admin'] }, config: { bind: { mode: 'search', usernameAttribute: 'uid' } } });
    expect(exported.proxies[0].policies[0].config.identitySources).toEqual([search, legacy]);
    const reapplied = await a.request('POST', '/api/v1/apiops/apply', { bundle: exported });
    expect(reapplied.status).toBe(200);
    expect(reapplied.body.applied).toEqual([]);
    expect(await auditCount(a)).toBe(before);
    // The withheld secrets are still the sealed ones: supplying the same values again changes nothing.
    expect((await a.request('POST', '/api/v1/apiops/plan', { bundle: withSources() })).body.changes).toEqual([]);
  });

  it('moves to another installation: the export names the secrets it needs, then applies and exports the same', async () => {
    const exported = (await exportOf(a)).body;
    const refused = await b.request('POST', '/api/v1/apiops/apply', { bundle: exported });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('invalid_bundle');
    expect(refused.body.errors.map((e: any) => e.path).sort()).toEqual(['bundle.identitySources.1.secret', 'bundle.identitySources.2.secret']);
    expect(await projectId(b)).toBeUndefined();
    expect(await sourcesOf(b)).toEqual([]);
    const supplied = structuredClone(exported);
    supplied.identitySources[1].secret = BIND_PASSWORD;
    supplied.identitySources[2].secret = DB_PASSWORD;
    expect((await b.request('POST', '/api/v1/apiops/apply', { bundle: supplied })).status).toBe(200);
    expect((await exportOf(b)).body).toEqual(exported);
    expect((await b.request('POST', '/api/v1/apiops/apply', { bundle: supplied })).body.applied).toEqual([]);
  });

  it('updates settings and a supplied secret, keeps a withheld one, removes one set to null', async () => {
    const next = structuredClone((await exportOf(a)).body);
    next.identitySources[1].roleMappings = { admins: ['admin'], staff: ['reader'] };
    next.identitySources[1].secret = `${BIND_PASSWORD}-rotated`;
    next.identitySources[2].config.port = 3307;
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle: next });
    expect(summary(plan.body.changes)).toEqual([`update identity_source ${search} roleMappings,secret`, `update identity_source ${legacy} config`]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: next })).status).toBe(200);
    const sources = await sourcesOf(a);
    expect(sources.find((s: any) => s.name === search)).toMatchObject({ roleMappings: { staff: ['reader'] }, hasSecret: true });
    expect(sources.find((s: any) => s.name === legacy)).toMatchObject({ config: { port: 3307 }, hasSecret: true });
    // The rotated secret is what is sealed now; the old one would be a change.
    expect((await a.request('POST', '/api/v1/apiops/plan', { bundle: next })).body.changes).toEqual([]);
    const old = structuredClone(next);
    old.identitySources[1].secret = BIND_PASSWORD;
    expect(summary((await a.request('POST', '/api/v1/apiops/plan', { bundle: old })).body.changes)).toEqual([`update identity_source ${search} secret`]);
    // A direct-bind source needs no secret: null over a stored one removes it.
    const withDirectSecret = structuredClone(next);
    withDirectSecret.identitySources[0].secret = 'unused';
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: withDirectSecret })).status).toBe(200);
    expect((await sourcesOf(a)).find((s: any) => s.name === direct).hasSecret).toBe(true);
    const cleared = await a.request('POST', '/api/v1/apiops/apply', { bundle: next });
    expect(summary(cleared.body.applied)).toEqual([`update identity_source ${direct} secret`]);
    expect((await sourcesOf(a)).find((s: any) => s.name === direct).hasSecret).toBe(false);
  });

  it("carries an LDAP source's directory settings (nested groups, page size, referrals, pool); a referral host the upstream policy refuses is refused", async () => {
    const next = structuredClone((await exportOf(a)).body);
    expect(next.identitySources[1].config).toMatchObject({ pageSize: 500, referrals: { follow: false, allowedHosts: [] }, pool: { size: 4, idleTimeoutSeconds: 60 } });
    next.identitySources[1].config = {
      ...next.identitySources[1].config,
      groups: { mode: 'search', baseDn: 'ou=groups,dc=example,dc=org', memberAttribute: 'member', groupObjectClass: 'group', nameAttribute: 'cn', nested: 'inChain', maxDepth: 3 },
      pageSize: 100,
      referrals: { follow: true, allowedHosts: ['dc2.example.org:389'] },
      pool: { size: 2, idleTimeoutSeconds: 30 },
    };
    expect(summary((await a.request('POST', '/api/v1/apiops/plan', { bundle: next })).body.changes)).toEqual([`update identity_source ${search} config`]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: next })).status).toBe(200);
    expect((await exportOf(a)).body.identitySources[1].config).toEqual(next.identitySources[1].config);
    expect((await a.request('POST', '/api/v1/apiops/plan', { bundle: next })).body.changes).toEqual([]);
    const forbidden = structuredClone(next);
    forbidden.identitySources[1].config.referrals.allowedHosts = ['169.254.169.254'];
    const refused = await a.request('POST', '/api/v1/apiops/apply', { bundle: forbidden });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toContain('upstream_forbidden');
    expect((await exportOf(a)).body.identitySources[1].config.referrals.allowedHosts).toEqual(['dc2.example.org:389']);
  });

  it.each([
    ['a source listed twice', (x: any) => x.identitySources.push(x.identitySources[0]), 'bundle.identitySources.3', 400, 'invalid_bundle'],
    ['a search-bind source set to no secret', (x: any) => (x.identitySources[1].secret = null), 'bundle.identitySources.1.secret', 400, 'invalid_bundle'],
    [
      'a source changing its type',
      (x: any) => (x.identitySources[0] = { ...x.identitySources[2], name: x.identitySources[0].name }),
      'bundle.identitySources.0.type',
      400,
      'invalid_bundle',
    ],
    [
      'a query splicing text',
      (x: any) => (x.identitySources[2].config.query = "SELECT pw FROM users WHERE login = 'x'"),
      'bundle.identitySources.2.config.query',
      400,
      'invalid_bundle',
    ],
    [
      'a proxy naming an unknown source',
      (x: any) => (x.proxies[0].policies[0].config.identitySources = ['nowhere']),
      'policies.0.config.identitySources',
      422,
      'identity_source_not_usable',
    ],
  ])('rejects %s with a 4xx naming the path, changing nothing', async (_label, change, path, status, code) => {
    const bad = structuredClone((await exportOf(a)).body);
    bad.identitySources[1].roleMappings = { changed: ['x'] };
    change(bad);
    const before = await sourcesOf(a);
    const res = await a.request('POST', '/api/v1/apiops/apply', { bundle: bad });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.body.errors.map((e: any) => e.path)).toContain(path);
    expect(await sourcesOf(a)).toEqual(before);
  });

  it('needs identity-source:read to export them and identity-source:write to apply them (403 naming it)', async () => {
    const id = await projectId(a);
    const roles = (await a.request('GET', '/api/v1/roles')).body;
    const editor = (await a.request('POST', '/api/v1/users', { username: `fed${suffix}`, password: 'editor-password' })).body;
    await a.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r: any) => r.name === 'project-editor').id,
      subject: { type: 'user', id: editor.id },
      scope: { type: 'project', id },
    });
    const token = (await a.request('POST', '/api/v1/auth/login', { username: `fed${suffix}`, password: 'editor-password' }, { token: null })).body.token;
    const exported = await exportOf(a, token);
    expect(exported.status).toBe(403);
    expect(exported.body.permission).toBe('identity-source:read');
    const bundle = structuredClone((await exportOf(a)).body);
    bundle.identitySources.push({ name: `sneaky-${suffix}`, type: 'ldap', config: { url: 'ldaps://x.example.org', bind: { mode: 'direct', dnTemplate: 'uid={username},dc=x' } } });
    const res = await a.request('POST', '/api/v1/apiops/apply', { bundle }, { token });
    expect(res.status).toBe(403);
    expect(res.body.permission).toBe('identity-source:write');
    expect((await sourcesOf(a)).some((s: any) => s.name === `sneaky-${suffix}`)).toBe(false);
  });

  it('refuses a source named like a System one (names are installation-wide) with a 409 naming it, changing nothing', async () => {
    const system = `sys-${suffix}`;
    const created = await a.request('POST', '/api/v1/identity-sources', { ...withSources().identitySources[0], name: system });
    expect(created.status).toBe(201);
    const bundle = structuredClone((await exportOf(a)).body);
    bundle.identitySources.push({ ...bundle.identitySources[0], name: system });
    bundle.identitySources[1].roleMappings = { changed: ['x'] };
    const before = await sourcesOf(a);
    const res = await a.request('POST', '/api/v1/apiops/apply', { bundle });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('identity_source_name_taken');
    expect(res.body.detail).toContain(`identity_source '${system}' (create)`);
    expect(await sourcesOf(a)).toEqual(before);
    expect((await a.request('DELETE', `/api/v1/identity-sources/${created.body.id}`)).status).toBe(204);
  });

  it('refuses a saml source that requires encrypted assertions without its SP certificate and key, naming what is missing, changing nothing', async () => {
    const pki = await TestPki.create();
    try {
      const idp = await pki.issue('idp', { subject: '/CN=apiops-idp', rsa: true });
      const sp = await pki.issue('sp', { subject: '/CN=apiops-sp', rsa: true });
      const other = await pki.issue('other', { subject: '/CN=apiops-other', rsa: true });
      const name = `saml-${suffix}`;
      const config = { idpEntityId: 'https://idp.example.org', ssoUrl: 'https://idp.example.org/sso', idpCertificates: [idp.cert], requireEncryptedAssertions: true };
      const applyWith = async (source: Record<string, unknown>) => {
        const bundle = structuredClone((await exportOf(a)).body);
        bundle.identitySources.push({ name, type: 'saml', ...source });
        bundle.identitySources[1].roleMappings = { changed: ['x'] };
        return a.request('POST', '/api/v1/apiops/apply', { bundle });
      };
      const before = await sourcesOf(a);

      const noCertificate = await applyWith({ config });
      expect(noCertificate.status).toBe(400);
      expect(noCertificate.body.errors).toEqual([expect.objectContaining({ path: 'bundle.identitySources.3.config.spCertificate' })]);
      // The key the assertions are encrypted to: an export never carries it, the apply must.
      const noKey = await applyWith({ config: { ...config, spCertificate: sp.cert } });
      expect(noKey.status).toBe(400);
      expect(noKey.body.errors).toEqual([expect.objectContaining({ path: 'bundle.identitySources.3.secret' })]);
      // A key the certificate is not of: the IdP would encrypt to a key the source does not hold.
      const wrongKey = await applyWith({ config: { ...config, spCertificate: sp.cert }, secret: other.key });
      expect(wrongKey.status).toBe(422);
      expect(wrongKey.body.code).toBe('saml_sp_key_invalid');
      expect(wrongKey.body.detail).toContain(`identity_source '${name}' (create)`);
      expect(wrongKey.body.errors).toEqual([expect.objectContaining({ path: 'config.spCertificate' })]);
      expect(JSON.stringify(wrongKey.body)).not.toContain('PRIVATE KEY');
      expect(await sourcesOf(a)).toEqual(before);
      // The same bundle with the SP's own key is planned as the create it is.
      const bundle = structuredClone((await exportOf(a)).body);
      bundle.identitySources.push({ name, type: 'saml', config: { ...config, spCertificate: sp.cert }, secret: sp.key });
      const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle });
      expect(plan.status).toBe(200);
      expect(summary(plan.body.changes)).toEqual([`create identity_source ${name}`]);
    } finally {
      await pki.remove();
    }
  });

  it('carries an external OIDC IdP (type oidc) like the other sources: client secret sealed and withheld, re-applied as a no-op, refused behind basic-auth', async () => {
    const idpProject = `idp-shop-${suffix}`;
    const CLIENT_SECRET = `idp-${randomBytes(8).toString('hex')}`;
    const idp = `okta-${suffix}`;
    const bundle: any = {
      apiVersion: 'idm/v1',
      kind: 'ProjectBundle',
      project: { name: idpProject, description: null },
      identitySources: [
        {
          name: idp,
          type: 'oidc',
          config: { issuer: 'https://login.example.org/oauth2/default', clientId: 'idm', requiredClaims: { email_verified: [true] } },
          secret: CLIENT_SECRET,
          roleMappings: { staff: ['reader'] },
        },
      ],
    };
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle })).status).toBe(200);
    const id = (await a.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === idpProject).id;
    const stored = (await sourcesOf(a)).find((x: any) => x.name === idp);
    expect(stored).toMatchObject({ type: 'oidc', projectId: id, hasSecret: true, config: { scopes: ['openid', 'profile', 'email'], claims: { username: 'preferred_username' } } });
    const exported = (await a.request('GET', `/api/v1/projects/${id}/bundle`)).body;
    expect(JSON.stringify(exported)).not.toContain(CLIENT_SECRET);
    expect(exported.identitySources).toEqual([expect.objectContaining({ name: idp, type: 'oidc', roleMappings: { staff: ['reader'] } })]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: exported })).body.applied).toEqual([]);
    // An external IdP checks no password: a basic-auth proxy cannot name it.
    const refused = await a.request('POST', '/api/v1/apiops/apply', {
      bundle: {
        ...exported,
        proxies: [
          { name: 'p', basePath: `/idp-${suffix}`, upstreamUrl: 'http://127.0.0.1:9/', methods: ['GET'], policies: [{ type: 'basic-auth', config: { identitySources: [idp] } }] },
        ],
      },
    });
    expect({ status: refused.status, body: refused.body }).toMatchObject({
      status: 422,
      body: { code: 'identity_source_not_usable', detail: expect.stringContaining('checks no password') },
    });
    expect((await a.request('DELETE', `/api/v1/identity-sources/${stored.id}`)).status).toBe(204);
  });

  it("names the project shared secret an oidc source takes its client secret from: exported by name, never the secret; imported elsewhere it resolves to that installation's secret; an unknown name is 400 invalid_bundle", async () => {
    const named = `named-idp-shop-${suffix}`;
    const idp = `entra-${suffix}`;
    const CLIENT_SECRET = `idp-shared-${randomBytes(8).toString('hex')}`;
    const material = Buffer.from(CLIENT_SECRET).toString('base64url');
    const source = { name: idp, type: 'oidc', config: { issuer: 'https://login.example.org/tenant', clientId: 'idm', clientSecretName: 'idp-client' } };
    const bundle: any = {
      apiVersion: 'idm/v1',
      kind: 'ProjectBundle',
      project: { name: named, description: null },
      secrets: [{ name: 'idp-client', kind: 'shared-secret', material }],
      identitySources: [source],
    };
    // Created in one go: the secret first, then the source naming it.
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle })).status).toBe(200);
    const idOf = async (m: InProcessManager) => (await m.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === named).id;
    const secretIdOf = async (m: InProcessManager) => (await m.request('GET', `/api/v1/projects/${await idOf(m)}/secrets`)).body.find((x: any) => x.name === 'idp-client').id;
    const storedOn = async (m: InProcessManager) => (await sourcesOf(m)).find((x: any) => x.name === idp);
    expect(await storedOn(a)).toMatchObject({ hasSecret: false, config: { clientSecretId: await secretIdOf(a) } });

    const exported = (await a.request('GET', `/api/v1/projects/${await idOf(a)}/bundle`)).body;
    for (const hidden of [CLIENT_SECRET, material, await secretIdOf(a)]) expect(JSON.stringify(exported)).not.toContain(hidden);
    expect(exported.identitySources).toEqual([expect.objectContaining({ name: idp, secret: null, config: expect.objectContaining({ clientSecretName: 'idp-client' }) })]);
    expect(exported.identitySources[0].config).not.toHaveProperty('clientSecretId');
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle: exported })).body.applied).toEqual([]);

    // Installation B: the export lists the secret without its material, which B must be given; a bundle not listing it names an unknown secret.
    const before = await auditCount(b);
    const withoutMaterial = await b.request('POST', '/api/v1/apiops/apply', { bundle: exported });
    expect({ status: withoutMaterial.status, paths: withoutMaterial.body.errors?.map((e: any) => e.path) }).toEqual({ status: 400, paths: ['bundle.secrets.0.material'] });
    const missing = await b.request('POST', '/api/v1/apiops/apply', { bundle: { ...exported, secrets: [] } });
    expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 400, code: 'invalid_bundle' });
    expect(missing.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'bundle.identitySources.0.config.clientSecretName', message: expect.stringContaining("unknown secret 'idp-client'") }),
      ]),
    );
    expect(await auditCount(b)).toBe(before);
    expect(await storedOn(b)).toBeUndefined();
    // Supplied with its material, B creates its own secret and the source points at B's id.
    const supplied = { ...exported, secrets: [{ ...exported.secrets[0], material }] };
    expect((await b.request('POST', '/api/v1/apiops/apply', { bundle: supplied })).status).toBe(200);
    expect(await storedOn(b)).toMatchObject({ hasSecret: false, config: { clientSecretId: await secretIdOf(b) } });
    expect(await secretIdOf(b)).not.toBe(await secretIdOf(a));

    // A sealed client secret switches to the named one (the sealed one goes), and a bundle giving both is refused.
    const sealed = { ...bundle, identitySources: [{ ...source, config: { issuer: source.config.issuer, clientId: 'idm' }, secret: 'sealed-one' }] };
    expect((await b.request('POST', '/api/v1/apiops/apply', { bundle: sealed })).status).toBe(200);
    expect(await storedOn(b)).toMatchObject({ hasSecret: true });
    expect((await storedOn(b)).config).not.toHaveProperty('clientSecretId');
    const plan = await b.request('POST', '/api/v1/apiops/plan', { bundle: supplied });
    expect(summary(plan.body.changes)).toEqual([`update identity_source ${idp} config,secret`]);
    expect((await b.request('POST', '/api/v1/apiops/apply', { bundle: supplied })).status).toBe(200);
    expect(await storedOn(b)).toMatchObject({ hasSecret: false, config: { clientSecretId: await secretIdOf(b) } });
    const both = await b.request('POST', '/api/v1/apiops/plan', { bundle: { ...supplied, identitySources: [{ ...source, secret: 'also-sealed' }] } });
    expect({ status: both.status, paths: both.body.errors?.map((e: any) => e.path) }).toEqual({ status: 400, paths: ['bundle.identitySources.0.secret'] });
    // Only a shared-secret can be a client secret.
    const wrongKind = { ...supplied, secrets: [{ name: 'idp-client', kind: 'public-key', material: 'x' }] };
    const refused = await a.request('POST', '/api/v1/apiops/plan', { bundle: { ...wrongKind, project: { name: `other-${named}`, description: null } } });
    expect(refused.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'bundle.identitySources.0.config.clientSecretName', message: expect.stringContaining('needs a shared-secret') })]),
    );

    for (const m of [a, b]) expect((await m.request('DELETE', `/api/v1/identity-sources/${(await storedOn(m)).id}`)).status).toBe(204);
  });

  it('prunes the sources the bundle no longer lists, after the proxy naming them', async () => {
    const bundle = { ...(await exportOf(a)).body, identitySources: [], proxies: [] };
    const plan = await a.request('POST', '/api/v1/apiops/plan', { bundle, prune: true });
    expect(summary(plan.body.changes)).toEqual([
      'delete api_proxy staff',
      `delete identity_source ${direct}`,
      `delete identity_source ${search}`,
      `delete identity_source ${legacy}`,
    ]);
    expect((await a.request('POST', '/api/v1/apiops/apply', { bundle, prune: true })).status).toBe(200);
    expect(await sourcesOf(a)).toEqual([]);
  });
});
