import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { REPO_ROOT } from './support/processes';
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
      metadata: [{ key: 'tier', value: 'gold' }, { key: 'upstream-token', value: 'hidden-value', secret: true }],
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
    ['a missing environment', { ...bundle(), project: { name: `other-${suffix}` }, proxies: [{ ...bundle().proxies[0], environments: ['nowhere'] }] }, 'invalid_bundle', 'bundle.proxies.0.environments.0'],
    ['a bad policy config', { ...bundle(), project: { name: `other-${suffix}` }, proxies: [{ ...bundle().proxies[0], policies: [{ type: 'api-key', config: { header: 42 } }] }] }, 'invalid_bundle', 'bundle.proxies.0.policies.0.config.header'],
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

  it('applies under the caller\'s permissions: an editor cannot create roles through a bundle', async () => {
    const project = (await a.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === `shop-${suffix}`);
    const roles = (await a.request('GET', '/api/v1/roles')).body;
    const editor = (await a.request('POST', '/api/v1/users', { username: `ed${suffix}`, password: 'editor-password' })).body;
    await a.request('POST', '/api/v1/role-bindings', { roleId: roles.find((r: any) => r.name === 'project-editor').id, subject: { type: 'user', id: editor.id }, scope: { type: 'project', id: project.id } });
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
      }).then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));
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

async function listen(m: InProcessManager): Promise<string> {
  await m.app.listen(0, '127.0.0.1');
  const address = m.app.getHttpServer().address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}
