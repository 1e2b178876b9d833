import { GatewayPresenceStore } from '@idm/config-bus';
import { eventually, freePort, RedisProcess } from '@idm/test-kit';
import Redis from 'ioredis';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * GET /environments/{id}/gateways while the Gateways' Redis goes away and comes back: the Manager
 * reads the heartbeats from a private redis-server, which the test stops (SIGKILL) and starts
 * again on the same port. Stopped, the route answers a 503 problem with its reason, detail and
 * Retry-After at once (no request held until a timeout); started, the same Manager lists the
 * Gateway again without a restart. Guards and bad ids are in route-guards.spec.
 */
describe('Gateway status with the Redis of the heartbeats unavailable (private redis-server)', () => {
  const P = '/api/v1';
  let database: TestDatabase;
  let redis: RedisProcess;
  let m: InProcessManager;
  let env: { id: string; name: string };
  const list = () => m.request('GET', `${P}/environments/${env.id}/gateways`);

  /** One Gateway reporting itself as its heartbeat does. */
  async function report(id: string): Promise<void> {
    const client = new Redis(redis.url);
    const now = Date.now();
    try {
      await new GatewayPresenceStore(client, env.name).report(
        { id, environment: env.name, version: '0.1.0', epoch: null, revision: null, appliedAt: null, ready: false, requestsPerSecond: 0, startedAt: now, reportedAt: now },
        60_000,
      );
    } finally {
      client.disconnect();
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    redis = new RedisProcess(await freePort());
    await redis.start();
    m = await startInProcessManager(database, { REDIS_URL: redis.url });
    env = (await m.request('POST', `${P}/environments`, { name: `gw-status-${Date.now().toString(36)}` })).body;
  }, 600_000);

  afterAll(async () => {
    // The Redis is this spec's own: nothing to remove from it.
    await m?.close({ keepPublishedConfig: true });
    await redis?.stop();
    await database?.drop();
  });

  it('answers 503 with its reason, detail and Retry-After at once while Redis is down, and lists the Gateways again once it is back', async () => {
    await report('edge-1');
    const before = await list();
    expect(before.status).toBe(200);
    expect(before.body.gateways.map((g: { id: string; sync: string }) => [g.id, g.sync])).toEqual([['edge-1', 'loading']]);

    await redis.stop();
    const asked = Date.now();
    const down = await list();
    // The service's client fails fast with the offline queue off: well within its 2 s command timeout plus slack.
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect({ status: down.status, type: down.headers['content-type'], retryAfter: down.headers['retry-after'], body: down.body }).toEqual({
      status: 503,
      type: expect.stringContaining('application/problem+json'),
      retryAfter: '5',
      body: expect.objectContaining({
        code: 'gateway_status_unavailable',
        title: 'Gateway status unavailable',
        detail: 'the Gateways report to Redis, which is unreachable; they keep serving meanwhile',
      }),
    });
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|stack|at \w+ \(/);

    // Back on the same port (empty: nothing persisted): the Manager reconnects by itself.
    await redis.start();
    await report('edge-2');
    const again = await eventually(list, (res) => res.status === 200, { what: 'the Gateway status readable again', timeoutMs: 30_000 });
    expect(again.body.gateways.map((g: { id: string }) => g.id)).toEqual(['edge-2']);
  }, 120_000);
});
