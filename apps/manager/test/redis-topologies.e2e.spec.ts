import { environmentConfigKeys } from '@idm/config-bus';
import { createHash } from 'node:crypto';
import { Client } from 'pg';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { eventually, type AppProcess } from '@idm/test-kit';
import { startRedisCluster, startRedisSentinel, type RedisTopologyUnderTest } from './support/redis-topologies';

/**
 * Both apps (built, as processes) on a Redis Cluster and on Redis Sentinel instead of one
 * server: the Manager's config reaches both Gateways, a token issued by one is introspected by
 * the other, a rate limit shared through Redis is exact across both; and on Sentinel all of it
 * keeps working after the replica is promoted.
 */
const ENV = 'ha';
const LIMIT = 5;

interface Installation {
  cluster: Cluster;
  admin: AdminClient;
  gateways: AppProcess[];
  projectId: string;
  client: { id: string; secret: string };
  /** API key of the credential the rate limit counts. */
  meteredKey: string;
  /** API key of the other credential (probes). */
  probeKey: string;
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const post = async (base: string, path: string, fields: Record<string, string>, headers: Record<string, string>) => {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined };
};
const get = (g: AppProcess, path: string, apiKey: string) => fetch(g.baseUrl + path, { headers: { 'x-api-key': apiKey } }).then((r) => r.status);

async function install(redis: RedisTopologyUnderTest): Promise<Installation> {
  const cluster = await startCluster({ environment: ENV, redisEnv: redis.env });
  const { admin, gateways, echoUrl } = cluster;
  const projectId = (await admin.call('POST', '/api/v1/projects', { name: 'ha' })).id;
  const client = await admin.call('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'app', password: 'app-password-1' });
  await admin.call('PUT', `/api/v1/projects/${projectId}/credentials/${client.id}/token-settings`, { grants: ['client_credentials'], scopes: [], scopeMode: 'lenient' });
  // Counted by its own credential: the probes below use the other one and leave this counter untouched.
  const metered = await admin.call('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'metered', password: 'metered-password-1' });
  await admin.call('POST', `/api/v1/projects/${projectId}/proxies`, {
    name: 'shop',
    basePath: '/shop',
    upstreamUrl: echoUrl,
    environments: [ENV],
    policies: [
      { type: 'api-key', config: {} },
      { type: 'rate-limit', config: { keyBy: 'credential', limits: [{ limit: LIMIT, windowSeconds: 3600 }] } },
    ],
  });
  // Probed with the other credential: requests before the route exists are not counted, and the probe's counter is its own.
  await Promise.all(
    gateways.map((g) =>
      eventually(
        () => get(g, '/shop/x', client.apiKey.key),
        (s) => s === 200,
        { what: `${g.name} to serve /shop` },
      ),
    ),
  );
  return { cluster, admin, gateways, projectId, client: { id: client.id, secret: 'app-password-1' }, meteredKey: metered.apiKey.key, probeKey: client.apiKey.key };
}

/** A proxy created now is served by both Gateways (the Manager's change reached them). */
async function provesConfigPropagation(i: Installation, name: string, redis: RedisTopologyUnderTest): Promise<void> {
  await i.admin.call('POST', `/api/v1/projects/${i.projectId}/proxies`, {
    name,
    basePath: `/${name}`,
    upstreamUrl: i.cluster.echoUrl,
    environments: [ENV],
    policies: [{ type: 'api-key', config: {} }],
  });
  await Promise.all(
    i.gateways.map((g) =>
      eventually(
        () => get(g, `/${name}/x`, i.probeKey),
        (s) => s === 200,
        { what: `${g.name} to serve /${name}` },
      ),
    ),
  );
  expect(await redis.client().exists(environmentConfigKeys(ENV).head)).toBe(1);
}

/** Rows of the Manager's durable copy of `token` (written from the Gateway's BullMQ job). */
async function durableCopies(i: Installation, token: string): Promise<number> {
  const pg = new Client({ connectionString: i.cluster.database.url });
  await pg.connect();
  try {
    return (await pg.query('SELECT count(*)::int AS n FROM oauth_tokens WHERE token_hash = $1', [createHash('sha256').update(token).digest('hex')])).rows[0].n;
  } finally {
    await pg.end();
  }
}

/** A token issued by the first Gateway is active at the second's introspection, and queued (BullMQ) to the Manager's durable copy. */
async function provesTokenIssueAndIntrospection(i: Installation, redis: RedisTopologyUnderTest): Promise<string> {
  const auth = { authorization: basic(i.client.id, i.client.secret) };
  const issued = await eventually(
    () => post(i.gateways[0].baseUrl, '/credential/token', { grant_type: 'client_credentials' }, auth),
    (r) => r.status === 200,
    { what: 'a token' },
  );
  const token = issued.body!.access_token as string;
  const introspection = await post(i.gateways[1].baseUrl, '/credential/introspect', { token }, auth);
  expect(introspection).toMatchObject({ status: 200, body: { active: true, client_id: expect.any(String) } });
  expect(await redis.client().exists(`{idm:tokens:${ENV}}:at:${createHash('sha256').update(token).digest('base64url')}`)).toBe(1);
  await eventually(
    () => durableCopies(i, token),
    (n) => n === 1,
    { what: "the Manager's durable copy of the token" },
  );
  return token;
}

/** Starts the deployment and the installation on it before the block's tests, and stops both after. */
function onTopology<T extends RedisTopologyUnderTest>(start: () => Promise<T>): { redis: T; i: Installation } {
  const context = {} as { redis: T; i: Installation };
  beforeAll(async () => {
    context.redis = await start();
    context.i = await install(context.redis);
  }, 120_000);
  afterAll(async () => {
    await context.i?.cluster.stop();
    await context.redis?.stop();
  }, 60_000);
  return context;
}

/** The rate limit counts through Redis, shared by both Gateways: exactly LIMIT requests pass. */
async function provesExactRateLimit(i: Installation): Promise<void> {
  const statuses: number[] = [];
  for (let n = 0; n < LIMIT + 2; n++) statuses.push(await get(i.gateways[n % 2], '/shop/x', i.meteredKey));
  expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
}

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
