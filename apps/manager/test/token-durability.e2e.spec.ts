import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { startCluster, type Cluster } from './support/cluster';
import { eventually } from '@idm/test-kit';

/**
 * Opaque tokens when Redis has lost them: a Manager and a Gateway on a private Redis and
 * PostgreSQL. Losing a token is simulated by deleting its keys (and the Gateway's short-lived
 * tombstones) from Redis; what must survive is what the Manager's durable copy says.
 */
describe('opaque tokens after Redis lost them', () => {
  const ENV = 'token-durability';
  const SECRET = 'durable-app-secret';
  let cluster: Cluster;
  let redis: Redis;
  let pg: Client;
  let gw: string;

  const sha = (token: string, encoding: 'hex' | 'base64url') => createHash('sha256').update(token).digest(encoding);
  const post = async (path: string, fields: Record<string, string>) => {
    const auth = `Basic ${Buffer.from(`durable-app:${SECRET}`).toString('base64')}`;
    const res = await fetch(`${gw}/credential${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, body: await res.json() };
  };
  const callApi = async (token: string) => (await fetch(`${gw}/durable/x`, { headers: { authorization: `Bearer ${token}` } })).status;
  const ownerGrant = async (scope = 'read write') => (await post('/token', { grant_type: 'password', username: 'dora', password: 'dora-password', scope })).body;
  /** Waits until the Manager has written the durable copies of `tokens` (BullMQ, asynchronous). */
  const durable = (...tokens: string[]) =>
    eventually(
      async () => (await pg.query('SELECT count(*)::int AS n FROM oauth_tokens WHERE token_hash = ANY($1)', [tokens.map((t) => sha(t, 'hex'))])).rows[0].n,
      (n) => n === tokens.length,
      { what: 'the durable copies' },
    );
  /** What a Redis restart without persistence does to these tokens, and to every tombstone. */
  const loseFromRedis = async (...tokens: string[]) => {
    const keys = tokens.map((t) => `{idm:tokens:${ENV}}:${t.startsWith('idm_at_') ? 'at' : 'rt'}:${sha(t, 'base64url')}`);
    const tombstones = await redis.keys('idm:tokens:revoked:*');
    if (keys.length + tombstones.length > 0) await redis.del(...keys, ...tombstones);
  };

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}] });
    const { admin } = cluster;
    gw = cluster.gateways[0].baseUrl;
    redis = new Redis(cluster.redis.url);
    pg = new Client({ connectionString: cluster.database.url });
    await pg.connect();
    const projectId = (await admin.projects.create({ name: 'durability' })).id;
    await admin.proxies.create(projectId, {
      name: 'durable',
      basePath: '/durable',
      upstreamUrl: cluster.echoUrl,
      environments: [ENV],
      policies: [{ type: 'oauth2-auth', config: {} }],
    });
    const appId = (await admin.credentials.create(projectId, { username: 'durable-app', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.create(projectId, { username: 'dora', password: 'dora-password', issueApiKey: false });
    await admin.credentials.putTokenSettings(projectId, appId, {
      grants: ['client_credentials', 'password', 'refresh_token'],
      refreshAllowed: true,
      scopes: ['read', 'write'],
      scopeMode: 'strict',
    });
    await eventually(
      () => post('/token', { grant_type: 'client_credentials' }),
      (r) => r.status === 200,
      { what: 'the client on the Gateway' },
    );
  }, 120000);

  afterAll(async () => {
    await pg?.end();
    redis?.disconnect();
    await cluster?.stop();
  }, 30000);

  it('records a revocation of an access token Redis lost, so the durable copy stops answering', async () => {
    const { access_token: token } = (await post('/token', { grant_type: 'client_credentials' })).body;
    await durable(token);
    await loseFromRedis(token);
    await eventually(
      () => callApi(token),
      (s) => s === 200,
      { what: 'the token served from the durable copy' },
    );
    expect((await post('/revoke', { token })).status).toBe(200);
    await loseFromRedis(token); // the tombstone goes too: only the Manager's revocation is left
    await eventually(
      () => callApi(token),
      (s) => s === 401,
      { what: 'the revoked token refused from the durable copy' },
    );
  }, 60000);

  it('revokes the family of a refresh token Redis lost', async () => {
    const grant = await ownerGrant();
    await durable(grant.access_token, grant.refresh_token);
    await loseFromRedis(grant.access_token, grant.refresh_token);
    await eventually(
      () => callApi(grant.access_token),
      (s) => s === 200,
      { what: 'the token served from the durable copy' },
    );
    expect((await post('/revoke', { token: grant.refresh_token })).status).toBe(200);
    await loseFromRedis();
    await eventually(
      () => callApi(grant.access_token),
      (s) => s === 401,
      { what: "the family's access token refused" },
    );
    expect(await post('/token', { grant_type: 'refresh_token', refresh_token: grant.refresh_token })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 60000);

  it('rotates a refresh token Redis lost from its durable copy, once', async () => {
    const grant = await ownerGrant('read');
    await durable(grant.refresh_token);
    await loseFromRedis(grant.access_token, grant.refresh_token);
    const rotated = await post('/token', { grant_type: 'refresh_token', refresh_token: grant.refresh_token });
    expect(rotated).toMatchObject({ status: 200, body: { scope: 'read', refresh_token: expect.stringMatching(/^idm_rt_/) } });
    expect(await callApi(rotated.body.access_token)).toBe(200);
    // Presenting it again is reuse, which takes the new tokens with it.
    expect(await post('/token', { grant_type: 'refresh_token', refresh_token: grant.refresh_token })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await callApi(rotated.body.access_token)).toBe(401);
  }, 60000);

  it('answers a scope wider than the grant with invalid_scope and keeps the refresh token usable', async () => {
    const grant = await ownerGrant('read');
    expect(await post('/token', { grant_type: 'refresh_token', refresh_token: grant.refresh_token, scope: 'read write' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_scope' },
    });
    expect(await post('/token', { grant_type: 'refresh_token', refresh_token: grant.refresh_token, scope: 'read' })).toMatchObject({ status: 200, body: { scope: 'read' } });
  });
});
