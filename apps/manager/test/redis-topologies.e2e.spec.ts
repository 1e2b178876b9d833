import { eventually } from '@idm/test-kit';
import { startRedisCluster, startRedisSentinel } from './support/redis-topologies';
import { basic, get, onTopology, post, provesConfigPropagation, provesExactRateLimit, provesTokenIssueAndIntrospection } from './support/topology-proofs';

/**
 * Both apps (built, as processes) on a Redis Cluster and on Redis Sentinel instead of one
 * server: config, tokens and an exact rate limit through each (support/topology-proofs.ts); and
 * on Sentinel all of it keeps working after the replica is promoted.
 */
describe('Redis Cluster (3 masters): config, tokens and rate limits', () => {
  const on = onTopology(startRedisCluster);

  it('propagates a config change from the Manager to both Gateways', () => provesConfigPropagation(on.i, 'orders', on.redis), 30_000);

  it('issues a token on one Gateway and introspects it on the other', () => provesTokenIssueAndIntrospection(on.i, on.redis), 30_000);

  it('enforces a rate limit exactly across both Gateways', () => provesExactRateLimit(on.i), 30_000);
});

describe('Redis Sentinel (master, replica, 3 Sentinels): config, tokens, rate limits and a failover', () => {
  const on = onTopology(startRedisSentinel);
  let tokenBefore: string;

  it('propagates a config change from the Manager to both Gateways', () => provesConfigPropagation(on.i, 'orders', on.redis), 30_000);

  it('issues a token on one Gateway and introspects it on the other', async () => {
    tokenBefore = await provesTokenIssueAndIntrospection(on.i, on.redis);
  }, 30_000);

  it('enforces a rate limit exactly across both Gateways', () => provesExactRateLimit(on.i), 30_000);

  it('keeps serving through a failover to the replica, and converges on the new master', async () => {
    const { i, redis } = on;
    // Proxies keep answering from memory while the master moves: the proxy path does not wait for Redis.
    const during: number[] = [];
    let moving = true;
    const traffic = (async () => {
      for (let n = 0; moving; n++) {
        during.push(await get(i.gateways[n % 2], '/orders/x', i.probeKey));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await redis.failover().finally(() => (moving = false));
    await traffic;
    expect(during.length).toBeGreaterThan(5);
    expect(during.filter((s) => s !== 200)).toEqual([]);
    // The new master has what the old one had: the spent limit and the earlier token.
    await Promise.all(
      i.gateways.map((g) =>
        eventually(
          () => get(g, '/shop/x', i.meteredKey),
          (s) => s === 429,
          { what: `${g.name}: the limit still spent` },
        ),
      ),
    );
    const auth = { authorization: basic(i.client.id, i.client.secret) };
    await eventually(
      () => post(i.gateways[1].baseUrl, '/credential/introspect', { token: tokenBefore }, auth),
      (r) => r.body?.active === true,
      { what: 'the earlier token on the new master' },
    );
    // And everything writes to the new master: config changes, tokens.
    await provesConfigPropagation(i, 'after-failover', redis);
    await provesTokenIssueAndIntrospection(i, redis);
  }, 90_000);
});
