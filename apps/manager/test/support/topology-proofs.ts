import { environmentConfigKeys } from '@idm/config-bus';
import { createHash } from 'node:crypto';
import { Client } from 'pg';
import type { AdminClient } from './admin-client';
import { startCluster, type Cluster } from './cluster';
import { eventually, type AppProcess } from '@idm/test-kit';
import type { RedisTopologyUnderTest } from './redis-topologies';

/**
 * What the Redis topology specs prove on each deployment, with both apps (built, as processes):
 * the Manager's config reaches both Gateways, a token issued by one is introspected by the other
 * (and queued over BullMQ to the Manager's durable copy), a rate limit shared through Redis is
 * exact across both.
 */
export const ENV = 'ha';
const LIMIT = 5;

export interface Installation {
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

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
export const post = async (base: string, path: string, fields: Record<string, string>, headers: Record<string, string>) => {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined };
};
export const get = (g: AppProcess, path: string, apiKey: string) => fetch(g.baseUrl + path, { headers: { 'x-api-key': apiKey } }).then((r) => r.status);

export async function install(redis: RedisTopologyUnderTest): Promise<Installation> {
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
export async function provesConfigPropagation(i: Installation, name: string, redis: RedisTopologyUnderTest): Promise<void> {
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
export async function provesTokenIssueAndIntrospection(i: Installation, redis: RedisTopologyUnderTest): Promise<string> {
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
export function onTopology<T extends RedisTopologyUnderTest>(start: () => Promise<T>): { redis: T; i: Installation } {
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
export async function provesExactRateLimit(i: Installation): Promise<void> {
  const statuses: number[] = [];
  for (let n = 0; n < LIMIT + 2; n++) statuses.push(await get(i.gateways[n % 2], '/shop/x', i.meteredKey));
  expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
}
