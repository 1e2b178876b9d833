import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';

/**
 * The rate limit of dynamic client registration (`/credential/register`, issue #15): per client
 * address and per initial access token, counted in Redis by the rate-limit policy's store, so the
 * limits hold across both Gateways. Hostile callers: a concurrent burst from one address (127.0.0.2)
 * while another (127.0.0.1) keeps registering, junk tokens that never reach the Manager, and one
 * leaked initial access token used from many addresses.
 */
describe('Dynamic client registration rate limit', () => {
  const ENV = 'dcr-rl';
  const RP = 'https://rp.example/cb';
  // Small windows so a burst trips them; the token limit is above the address limit so each is seen alone.
  const LIMITS = { DCR_RATE_LIMIT_PER_ADDRESS: '5/60', DCR_RATE_LIMIT_PER_TOKEN: '8/60' };
  let cluster: Cluster;
  let admin: AdminClient;
  let projectId: string;
  let registerUrls: string[];

  /** One registration request from `localAddress` (127.0.0.0/8 is all loopback) to a Gateway. */
  const registerFrom = (localAddress: string, token: string | null, url = registerUrls[0], body = JSON.stringify({ redirect_uris: [RP] })) =>
    new Promise<{ status: number; retryAfter: string | undefined; body: Record<string, any> }>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          localAddress,
          headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...(token !== null && { authorization: `Bearer ${token}` }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body: text ? (JSON.parse(text) as Record<string, any>) : {} });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const newToken = async () => ((await admin.call('POST', `/api/v1/projects/${projectId}/initial-access-tokens`, { description: 'rate limit test' })) as { token: string }).token;
  const registeredClients = async () => {
    const listed = (await admin.call('GET', `/api/v1/projects/${projectId}/oidc-clients`)) as unknown;
    return (Array.isArray(listed) ? listed : (listed as { items: unknown[] }).items).length;
  };

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [LIMITS, LIMITS], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    admin = cluster.admin;
    registerUrls = cluster.gateways.map((g) => `${g.baseUrl}/credential/register`);
    const env = await admin.environments.named(ENV);
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
    projectId = (await admin.projects.create({ name: 'dcr-rl' })).id;
    // A deployed proxy makes the project's clients visible to the environment (a registration waits for its client to arrive).
    await admin.proxies.create(projectId, { name: 'orders', basePath: '/orders', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'jwt-auth', config: {} }] });
    await admin.call('PUT', `/api/v1/projects/${projectId}/client-registration`, { enabled: true });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('lets a concurrent burst from one address through up to the limit across both Gateways, 429 with Retry-After and limit "address" after, while another address still registers', async () => {
    const token = await newToken();
    const before = await registeredClients();
    // Twelve at once from 127.0.0.2, spread over both Gateways: the counter is shared, so exactly five pass.
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => registerFrom('127.0.0.2', token, registerUrls[i % 2])));
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(5).fill(201), ...Array(7).fill(429)]);
    for (const refused of burst.filter((r) => r.status === 429)) {
      expect(refused.body).toMatchObject({ error: 'rate_limited', limit: 'address' });
      expect(refused.body.error_description).toMatch(/from this address/);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    }
    // Nothing registered for the refused requests.
    expect(await registeredClients()).toBe(before + 5);
    // Another address is not held back by 127.0.0.2's burst.
    expect((await registerFrom('127.0.0.1', token)).status).toBe(201);
    // 127.0.0.2 stays refused, with or without a token, on either Gateway: a flood never reaches the Manager.
    expect(await registerFrom('127.0.0.2', null, registerUrls[1])).toMatchObject({ status: 429, body: { limit: 'address' } });
    expect(await registerFrom('127.0.0.2', 'iat_junk', registerUrls[0], '{not json')).toMatchObject({ status: 429, body: { limit: 'address' } });
  }, 120_000);

  it('limits one initial access token used from many addresses (limit "initial_access_token"), without holding back another token', async () => {
    const leaked = await newToken();
    const other = await newToken();
    const addresses = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
    const results = [];
    // Three requests from each of three addresses: below every address limit, nine uses of one token.
    for (const address of addresses) for (let i = 0; i < 3; i++) results.push(await registerFrom(address, leaked, registerUrls[i % 2]));
    expect(results.map((r) => r.status)).toEqual([...Array(8).fill(201), 429]);
    expect(results[8]).toMatchObject({ body: { error: 'rate_limited', limit: 'initial_access_token' } });
    expect(Number(results[8].retryAfter)).toBeGreaterThanOrEqual(1);
    // The same address with another token registers (its address counter has room).
    expect((await registerFrom('127.0.0.13', other)).status).toBe(201);
    // Junk tokens are counted per token too, but only an address limit stops a caller rotating them: each junk token gets the Manager's 401.
    expect(await registerFrom('127.0.0.14', 'iat_not_a_real_token')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  }, 120_000);
});
