import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { policyTypes } from '@idm/policies/schemas';
import { parse } from 'yaml';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { REPO_ROOT } from '@idm/test-kit';
import { createTestDatabase, type TestDatabase } from './support/test-database';

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
    const diff = await a.request('POST', '/api/v1/apiops/plan', { bundle: changed });
    expect(diff.body.changes).toEqual([
      { op: 'update', kind: 'api_proxy', name: 'orders', fields: ['upstreamUrl'] },
      { op: 'update', kind: 'credential', name: 'checkout', fields: ['metadata'] },
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
