import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * The Manager's half of the upstream policy: a proxy is not saved with an upstream inside the
 * installation. Default (production) settings refuse loopback, link-local and metadata; even in
 * development mode (UPSTREAM_ALLOW_INTERNAL) the Manager's listener, its Redis and its PostgreSQL
 * are refused. Every write path: create, update, APIops.
 */
describe('upstream policy on save', () => {
  let strictDatabase: TestDatabase;
  let devDatabase: TestDatabase;
  let strict: InProcessManager;
  let dev: InProcessManager;
  const s = randomBytes(3).toString('hex');
  let n = 0;
  const create = (m: InProcessManager, projectId: string, upstreamUrl: string) =>
    m.request('POST', `/api/v1/projects/${projectId}/proxies`, { name: `p${++n}`, basePath: `/p${n}-${s}`, upstreamUrl });
  const projects = { strict: '', dev: '' };
  const MANAGER_PORT = '18080';

  beforeAll(async () => {
    [strictDatabase, devDatabase] = await Promise.all([createTestDatabase('pglite'), createTestDatabase('postgres')]);
    // No UPSTREAM_ALLOW: what production gets. The test helper opts in to 127.0.0.1, so unset it.
    strict = await startInProcessManager(strictDatabase, { UPSTREAM_ALLOW: '' });
    dev = await startInProcessManager(devDatabase, { UPSTREAM_ALLOW_INTERNAL: 'true', MANAGER_PORT, MANAGER_HOST: '0.0.0.0' });
    projects.strict = (await strict.request('POST', '/api/v1/projects', { name: `strict-${s}` })).body.id;
    projects.dev = (await dev.request('POST', '/api/v1/projects', { name: `dev-${s}` })).body.id;
  }, 60000);

  afterAll(async () => {
    await Promise.all([strict?.close(), dev?.close()]);
    await Promise.all([strictDatabase?.drop(), devDatabase?.drop()]);
  });

  it.each([
    'http://127.0.0.1:3000/',
    'http://localhost:3000/', // a name is judged by the addresses it resolves to
    'http://[::1]:3000/',
    'http://[::ffff:127.0.0.1]:3000/',
    'http://2130706433:3000/', // 127.0.0.1 written as one number
    'http://0.0.0.0:3000/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fe80::1]/',
  ])('refuses %s by default with 422 upstream_forbidden naming the reason', async (url) => {
    const res = await create(strict, projects.strict, url);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      code: 'upstream_forbidden',
      reason: 'internal_address',
      errors: [{ path: 'upstreamUrl', message: expect.stringMatching(/loopback, link-local or metadata/) }],
    });
  });

  it('accepts ordinary upstreams, and names that do not resolve yet (the Gateway checks again at connect time)', async () => {
    expect((await create(strict, projects.strict, 'http://10.1.2.3:8080/api')).status).toBe(201);
    expect((await create(strict, projects.strict, 'https://orders.invalid/api')).status).toBe(201);
  });

  it('refuses the change on update too, leaving the proxy as it was', async () => {
    const made = await create(strict, projects.strict, 'http://10.1.2.3:8080/');
    const res = await strict.request('PATCH', `/api/v1/projects/${projects.strict}/proxies/${made.body.id}`, { upstreamUrl: 'http://169.254.169.254/' });
    expect(res).toMatchObject({ status: 422, body: { code: 'upstream_forbidden' } });
    expect((await strict.request('GET', `/api/v1/projects/${projects.strict}/proxies/${made.body.id}`)).body.upstreamUrl).toBe('http://10.1.2.3:8080/');
  });

  it('refuses through APIops apply', async () => {
    const bundle = {
      apiVersion: 'idm/v1',
      kind: 'ProjectBundle',
      project: { name: `ops-${s}` },
      teams: [],
      roles: [],
      credentials: [],
      proxies: [{ name: 'meta', basePath: `/meta-${s}`, upstreamUrl: 'http://169.254.169.254/', methods: ['GET'], policies: [], environments: [] }],
    };
    const res = await strict.request('POST', '/api/v1/apiops/apply', { bundle });
    expect(res).toMatchObject({ status: 422, body: { code: 'upstream_forbidden', detail: expect.stringContaining("api_proxy 'meta'") } });
  });

  it("in development mode allows loopback, but never the Manager's listener, Redis or PostgreSQL", async () => {
    expect((await create(dev, projects.dev, 'http://127.0.0.1:3000/')).status).toBe(201);
    expect((await create(dev, projects.dev, 'http://169.254.169.254/')).status).toBe(201);
    const own = [
      [`http://127.0.0.1:${MANAGER_PORT}/api/v1/`, "the Manager's admin listener"], // listening on 0.0.0.0: every local address
      [`http://localhost:${MANAGER_PORT}/`, "the Manager's admin listener"],
      ['http://127.0.0.1:6379/', "the installation's Redis"],
      ['http://127.0.0.1:5432/', "the installation's PostgreSQL"],
    ];
    for (const [url, what] of own) {
      const res = await create(dev, projects.dev, url);
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ code: 'upstream_forbidden', reason: 'installation_endpoint', detail: expect.stringContaining(what) });
    }
  });
});
