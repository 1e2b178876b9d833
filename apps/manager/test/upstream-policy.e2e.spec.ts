import { startCluster, type Cluster } from './support/cluster';
import { eventually } from '@idm/test-kit';

/**
 * The upstream policy in the built processes, configured only through their environment: the
 * Manager refuses its own listener and Redis on save; a Gateway without the loopback opt-in
 * refuses the same echo upstream another Gateway (with it) serves.
 */
describe('upstream policy end to end', () => {
  const ENV = 'e2e-upstream';
  let cluster: Cluster;
  let projectId: string;

  beforeAll(async () => {
    // Gateway a: production defaults (no UPSTREAM_ALLOW). Gateway b: the tests' opt-in.
    cluster = await startCluster({ environment: ENV, gateways: [{ UPSTREAM_ALLOW: '' }, {}] });
    projectId = (await cluster.admin.projects.create({ name: 'upstreams' })).id;
  }, 90000);

  afterAll(() => cluster?.stop(), 30000);

  const create = (name: string, upstreamUrl: string) => cluster.admin.proxies.create(projectId, { name, basePath: `/${name}`, upstreamUrl, environments: [ENV] });

  it("the Manager refuses its own listener and the installation's Redis, although loopback is allowed", async () => {
    await expect(create('manager', `${cluster.manager.baseUrl}/api/v1`)).rejects.toThrow(/422 .*"code":"upstream_forbidden".*the Manager's admin listener/);
    await expect(create('redis', cluster.redis.url.replace('redis:', 'http:'))).rejects.toThrow(/422 .*"code":"upstream_forbidden".*the installation's Redis/);
  });

  it('a Gateway without the opt-in answers 502 upstream_forbidden; one with it serves', async () => {
    await create('echo', cluster.echoUrl);
    const [strict, allowing] = cluster.gateways;
    const call = (path: string) => fetch(strict.baseUrl + path).then(async (r) => ({ status: r.status, body: await r.json() }));
    const refused = await eventually(
      () => call('/echo/x'),
      (r) => r.status !== 404,
      { what: 'gateway a to load the proxy' },
    );
    expect(refused).toEqual({ status: 502, body: { code: 'upstream_forbidden', message: expect.any(String), requestId: expect.any(String) } });
    const served = await eventually(
      () => fetch(allowing.baseUrl + '/echo/x').then((r) => r.status),
      (s) => s !== 404,
      { what: 'gateway b to load the proxy' },
    );
    expect(served).toBe(200);
  });
});
