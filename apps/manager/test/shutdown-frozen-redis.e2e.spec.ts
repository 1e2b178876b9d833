import { startCluster, type Cluster } from './support/cluster';

/**
 * SIGTERM while Redis has stopped answering (SIGSTOP: the connections stay open, nothing replies,
 * as behind a partition that drops packets). Both planes must still exit by themselves, with 0:
 * a QUIT or a publication waiting on such a Redis is given up after a bounded wait instead of
 * holding the pod until its SIGKILL (the Gateway's own SHUTDOWN_TIMEOUT_MS would exit 1).
 */
describe('Shutdown with a frozen Redis (Manager and Gateway processes, private redis-server)', () => {
  const ENV = `frozen-${Date.now().toString(36)}`;
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}] });
    const { admin } = cluster;
    const projectId = (await admin.projects.create({ name: 'frozen-redis' })).id;
    await admin.proxies.create(projectId, { name: 'frozen', basePath: '/frozen', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'api-key' }] });
    const key = (await admin.credentials.create(projectId, { username: 'frozen-user', issueApiKey: true })).apiKey!.key;
    // Every Redis connection of both planes in use: the Gateway served a keyed request, the Manager published.
    const g = cluster.gateways[0];
    let status = 0;
    for (const deadline = Date.now() + 30_000; status !== 200 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      status = (await fetch(`${g.baseUrl}/frozen/x`, { headers: { 'x-api-key': key } })).status;
    }
    expect(status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    cluster?.redis.resume();
    await cluster?.stop();
  });

  it('exits with 0 on SIGTERM, both planes, within a bounded wait', async () => {
    cluster.redis.freeze();
    const started = Date.now();
    // Longer than any bounded wait of theirs: a process still running then is hung on Redis.
    const [gateway, manager] = await Promise.all([cluster.gateways[0].stop('SIGTERM', 30_000), cluster.manager.stop('SIGTERM', 30_000)]);
    const tookMs = Date.now() - started;
    expect({ gateway, manager }).toEqual({ gateway: { code: 0, signal: null }, manager: { code: 0, signal: null } });
    expect(tookMs).toBeLessThan(20_000);
  }, 60_000);
});
