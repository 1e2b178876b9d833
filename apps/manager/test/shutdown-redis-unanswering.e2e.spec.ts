import { startCluster, type Cluster } from './support/cluster';

/**
 * SIGTERM while Redis does not answer. Both planes must still exit by themselves, with 0: a QUIT,
 * a BullMQ close or a publication waiting on such a Redis is given up after a bounded wait
 * instead of holding the pod until its SIGKILL (the Gateway's own SHUTDOWN_TIMEOUT_MS would exit
 * 1). Two ways: frozen (SIGSTOP: the connections stay open and nothing replies, as behind a
 * partition that drops packets), and gone for longer than BullMQ's blocking wait (its blocking
 * client then sits in `reconnecting`, where Worker.close() never resolves: BullMQ issue 4656).
 */
describe('Shutdown with Redis not answering (Manager and Gateway processes, private redis-server)', () => {
  const ENV = `frozen-${Date.now().toString(36)}`;
  let cluster: Cluster;
  let apiKey: string;

  /** Every Redis connection of both planes in use: the Gateway serves a keyed request the Manager published. */
  async function serving(): Promise<void> {
    const g = cluster.gateways[0];
    let status = 0;
    for (const deadline = Date.now() + 30_000; status !== 200 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      status = (await fetch(`${g.baseUrl}/frozen/x`, { headers: { 'x-api-key': apiKey } })).status;
    }
    expect(status).toBe(200);
  }

  /** SIGTERM to both at once; 30 s is longer than any bounded wait of theirs: a process still running then is hung on Redis. */
  async function terminate(): Promise<{ ended: unknown; tookMs: number }> {
    const started = Date.now();
    const [gateway, manager] = await Promise.all([cluster.gateways[0].stop('SIGTERM', 30_000), cluster.manager.stop('SIGTERM', 30_000)]);
    return { ended: { gateway, manager }, tookMs: Date.now() - started };
  }
  const cleanExits = { gateway: { code: 0, signal: null }, manager: { code: 0, signal: null } };

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}] });
    const { admin } = cluster;
    const projectId = (await admin.projects.create({ name: 'frozen-redis' })).id;
    await admin.proxies.create(projectId, { name: 'frozen', basePath: '/frozen', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'api-key' }] });
    apiKey = (await admin.credentials.create(projectId, { username: 'frozen-user', issueApiKey: true })).apiKey!.key;
    await serving();
  }, 180_000);

  afterAll(async () => {
    cluster?.redis.resume();
    await cluster?.stop();
  });

  it('frozen: both planes exit with 0 on SIGTERM within a bounded wait', async () => {
    cluster.redis.freeze();
    const { ended, tookMs } = await terminate();
    expect(ended).toEqual(cleanExits);
    expect(tookMs).toBeLessThan(20_000);
  }, 60_000);

  it('gone for longer than BullMQ waits on its blocking connection: both planes exit with 0 on SIGTERM within a bounded wait', async () => {
    cluster.redis.resume();
    await cluster.restartManager();
    await cluster.gateways[0].start();
    await serving();

    await cluster.redis.stop();
    // BullMQ's blocking wait (drainDelay 5 s) plus its 1 s watchdog, and a margin.
    await new Promise((r) => setTimeout(r, 8_000));
    const { ended, tookMs } = await terminate();
    expect(ended).toEqual(cleanExits);
    expect(tookMs).toBeLessThan(20_000);
  }, 180_000);
});
