import Redis from 'ioredis';
import { configChangedChannel } from '@idm/config-bus';
import { eventually, type AppProcess } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';

/**
 * Each environment's changes go out on its own channel (issue #13): a Gateway of environment A
 * subscribes to A's only, so a change in B never reaches it — not even to be ignored — while B's
 * Gateway still follows B and A's still follows A. Counted on the private redis-server (who
 * subscribes to what) and by each Gateway (`idm_gateway_config_messages_total`: every message its
 * subscription delivered, against the revisions it applied).
 */
describe('config.changed, one channel per environment', () => {
  const A = 'chan-a';
  const B = 'chan-b';
  let cluster: Cluster;
  let gatewayA: AppProcess;
  let gatewayB: AppProcess;
  let admin: AdminClient;
  let redis: Redis;
  const project: Record<string, string> = {};

  /** The Gateway's message count and served revision, off its Prometheus endpoint. */
  const counters = async (gateway: AppProcess) => {
    const text = await (await fetch(`${gateway.baseUrl}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { messages: value('idm_gateway_config_messages_total'), revision: value('idm_gateway_config_revision') };
  };
  const status = (gateway: AppProcess, path: string, apiKey: string) => fetch(gateway.baseUrl + path, { headers: { 'x-api-key': apiKey } }).then((r) => r.status);
  const answers = (gateway: AppProcess, path: string, apiKey: string, expected: number, what: string) =>
    eventually(
      () => status(gateway, path, apiKey),
      (s) => s === expected,
      { what },
    );

  beforeAll(async () => {
    cluster = await startCluster({ environment: A, moreEnvironments: [B], gateways: [{}, { GATEWAY_ENVIRONMENT: B }] });
    [gatewayA, gatewayB] = cluster.gateways;
    admin = cluster.admin;
    redis = new Redis(cluster.redis.url);
    for (const env of [A, B]) {
      project[env] = (await admin.projects.create({ name: `shop-${env}` })).id;
      await admin.proxies.create(project[env], {
        name: 'catalog',
        basePath: `/${env}`,
        upstreamUrl: `${cluster.echoUrl}/v1`,
        policies: [{ type: 'api-key', config: {} }],
        environments: [env],
      });
    }
  }, 180_000);

  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  }, 60_000);

  it('subscribes each Gateway to its own environment channel only', async () => {
    const numsub = (await redis.pubsub('NUMSUB', configChangedChannel(A), configChangedChannel(B), 'config.changed')) as (string | number)[];
    // [channel, subscribers, ...]: one Gateway on each environment's channel, no one on the old shared one.
    expect(numsub.filter((_, i) => i % 2 === 1).map(Number)).toEqual([1, 1, 0]);
  });

  it("delivers a change in B to B's Gateway only; A's still follows A", async () => {
    // Both Gateways serve their proxy (a key they do not know: 401), so both are past their boot load.
    await answers(gatewayA, `/${A}`, 'idm_unknown', 401, 'A serves its proxy');
    await answers(gatewayB, `/${B}`, 'idm_unknown', 401, 'B serves its proxy');
    const before = { a: await counters(gatewayA), b: await counters(gatewayB) };

    // Changes in B: a credential with a key, then disabled; B's Gateway follows both.
    const inB = await admin.credentials.create(project[B], { username: 'b-user', password: 'b-user-password' });
    await answers(gatewayB, `/${B}`, inB.apiKey!.key, 200, "B's Gateway accepts B's new key");
    await admin.credentials.update(project[B], inB.id, { enabled: false });
    await answers(gatewayB, `/${B}`, inB.apiKey!.key, 401, "B's Gateway refuses B's disabled key");

    // Then a change in A: once A's Gateway has it, whatever was published on B before it would have arrived too (one connection delivers in order).
    const inA = await admin.credentials.create(project[A], { username: 'a-user', password: 'a-user-password' });
    await answers(gatewayA, `/${A}`, inA.apiKey!.key, 200, "A's Gateway accepts A's new key");
    expect(await status(gatewayA, `/${A}`, inB.apiKey!.key)).toBe(401);

    const after = { a: await counters(gatewayA), b: await counters(gatewayB) };
    // Every message A's Gateway received was one of A's revisions: B's changes never reached it.
    expect(after.a.revision).toBeGreaterThan(before.a.revision);
    expect(after.a.messages - before.a.messages).toBe(after.a.revision - before.a.revision);
    // B's Gateway received B's changes (each a revision of B), and nothing of A's.
    expect(after.b.revision - before.b.revision).toBeGreaterThanOrEqual(2);
    expect(after.b.messages - before.b.messages).toBe(after.b.revision - before.b.revision);
  }, 180_000);
});
