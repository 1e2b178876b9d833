import { EnvironmentConfigStore } from '@idm/config-bus';
import Redis from 'ioredis';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { eventually, type AppProcess } from '@idm/test-kit';

/**
 * Failure limits of the token endpoints, shared by two Gateway processes through Redis. The
 * Gateways trust X-Forwarded-For (GATEWAY_TRUST_PROXY), so each case speaks from its own address;
 * limits are small (3 per client id or owner, 6 per address; the brute-force detectors) so the cases stay quick.
 */
describe('token endpoint failure limits across two Gateways', () => {
  const ENV = 'token-failures';
  const limits = {
    GATEWAY_TRUST_PROXY: 'true',
    BRUTE_FORCE_PER_CREDENTIAL: '3',
    BRUTE_FORCE_PER_ADDRESS: '6',
    BRUTE_FORCE_PER_CREDENTIAL_ADDRESS: '0',
    BRUTE_FORCE_WINDOW_SECONDS: '120',
    BRUTE_FORCE_LOCKOUT_SECONDS: '120',
  };
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  /** A token request from `address`, on Gateway `i`. */
  const token = async (i: number, address: string, client: [string, string], fields: Record<string, string> = { grant_type: 'client_credentials' }) => {
    const res = await fetch(`${gateways[i % 2].baseUrl}/credential/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(...client), 'x-forwarded-for': address },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  };

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [limits, limits] });
    ({ gateways, admin } = cluster);
    const projectId = (await admin.projects.create({ name: 'failures' })).id;
    // Credentials reach an environment's Gateways with a proxy of their project deployed there.
    await admin.proxies.create(projectId, { name: 'api', basePath: '/failures-api', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [] });
    for (const username of ['target-app', 'busy-app']) {
      const id = (await admin.credentials.create(projectId, { username, password: `${username}-secret`, issueApiKey: false })).id;
      await admin.credentials.putTokenSettings(projectId, id, { grants: ['client_credentials', 'password'], scopes: [], scopeMode: 'lenient' });
    }
    for (const username of ['alice', 'bob']) await admin.credentials.create(projectId, { username, password: `${username}-password`, issueApiKey: false });
    // Wait on the revision, not on token calls: a call before the clients arrive would count as a failure.
    const redis = new Redis(cluster.redis.url);
    const published = await eventually(
      () => new EnvironmentConfigStore(redis).load(ENV),
      (s) => !!s?.credentials.some((c) => c.username === 'bob'),
      { what: 'the configuration with every client' },
    );
    redis.disconnect();
    const revision = published!.revision;
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => fetch(`${g.baseUrl}/health/ready`).then((r) => r.json()),
          (h) => h.revision >= revision,
          { what: `${g.name} at revision ${revision}` },
        ),
      ),
    );
  }, 120000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30000);

  it('refuses a client id after its failures on any Gateway, even with the right secret, with 429 slow_down and Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect((await token(i, '10.0.0.1', ['target-app', `guess-${i}`])).status).toBe(401);
    const refused = await token(0, '10.0.0.1', ['target-app', 'target-app-secret']);
    expect(refused).toMatchObject({ status: 429, body: { error: 'slow_down', error_description: expect.stringMatching(/try again in \d+ seconds/) } });
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(120);
    // Per client id, from anywhere: spreading guesses over addresses does not help.
    expect((await token(1, '10.0.0.2', ['target-app', 'target-app-secret'])).status).toBe(429);
  });

  it('never counts successes', async () => {
    for (let i = 0; i < 8; i++) expect((await token(i, '10.0.0.3', ['busy-app', 'busy-app-secret'])).status).toBe(200);
  });

  it('limits wrong resource-owner passwords per owner, leaving the client and other owners alone', async () => {
    const password = (username: string, pw: string) => ({ grant_type: 'password', username, password: pw });
    for (let i = 0; i < 3; i++)
      expect(await token(i, '10.0.0.4', ['busy-app', 'busy-app-secret'], password('alice', `guess-${i}`))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await token(0, '10.0.0.5', ['busy-app', 'busy-app-secret'], password('alice', 'alice-password'))).toMatchObject({ status: 429, body: { error: 'slow_down' } });
    expect((await token(1, '10.0.0.5', ['busy-app', 'busy-app-secret'], password('bob', 'bob-password'))).status).toBe(200);
    expect((await token(0, '10.0.0.5', ['busy-app', 'busy-app-secret'])).status).toBe(200);
  });

  it('limits one address across client ids', async () => {
    for (let i = 0; i < 6; i++) expect((await token(i, '10.0.0.6', [`nobody-${i}`, 'guess'])).status).toBe(401);
    expect(await token(0, '10.0.0.6', ['busy-app', 'busy-app-secret'])).toMatchObject({ status: 429, body: { error: 'slow_down' } });
    expect((await token(1, '10.0.0.7', ['busy-app', 'busy-app-secret'])).status).toBe(200);
  });
});
