import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { curl } from './support/curl';
import { eventually, type AppProcess, type RedisProcess } from './support/processes';


/**
 * Per-credential authorization rules end to end: configured over the Manager's credential API,
 * carried in the snapshot, enforced by two Gateway processes that share one Redis for rate
 * limits. Clients are curl and fetch.
 */
describe('credential rules on two Gateways', () => {
  const ENV = 'rules';
  let cluster: Cluster;
  let redis: RedisProcess;
  let echoUrl: string;
  let manager: AppProcess;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let projectId: string;
  let credentialId: string;
  let apiKey: string;

  const call = (g: AppProcess, path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(g.baseUrl + path, { method, headers: { 'x-api-key': apiKey, ...headers } }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json().catch(() => undefined) }));
  const setAccess = async (access: unknown) => {
    await admin.call('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialId}`, { access });
  };
  const both = (path: string, accept: (r: Awaited<ReturnType<typeof call>>) => boolean, what: string, headers?: Record<string, string>, method?: string) =>
    Promise.all(gateways.map((g) => eventually(() => call(g, path, headers, method), accept, { what: `${g.name}: ${what}` })));

  beforeAll(async () => {
    // gateway-a believes X-Forwarded-For from 127.0.0.1 (as if behind a load balancer there);
    // gateway-b trusts no hop, so the same header is a spoof it must ignore.
    const clientIp = (trusted: string) => ({ GATEWAY_CLIENT_IP_HEADER: 'x-forwarded-for', GATEWAY_CLIENT_IP_POSITION: 'last', GATEWAY_TRUSTED_PROXIES: trusted });
    cluster = await startCluster({ environment: ENV, gateways: [clientIp('127.0.0.1'), clientIp('10.255.255.254')] });
    ({ redis, echoUrl, manager, gateways, admin } = cluster);
    projectId = (await admin.call('POST', '/api/v1/projects', { name: 'rules' })).id;
    await admin.call('POST', `/api/v1/projects/${projectId}/proxies`, { name: 'shop', basePath: '/shop', upstreamUrl: echoUrl, methods: ['GET', 'POST', 'DELETE'], policies: [{ type: 'api-key', config: {} }], environments: [ENV] });
    await admin.call('POST', `/api/v1/projects/${projectId}/proxies`, { name: 'legacy', basePath: '/legacy', upstreamUrl: echoUrl, policies: [{ type: 'basic-auth', config: {} }], environments: [ENV] });
    const credential = await admin.call('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'partner', password: 'partner-password' });
    credentialId = credential.id;
    apiKey = credential.apiKey.key;
    await both('/shop/x', (r) => r.status === 200, 'proxy serves');
  }, 90000);

  afterAll(() => cluster?.stop(), 30000);

  it('validates rules in the credential API and returns them', async () => {
    const res = await fetch(`${manager.baseUrl}/api/v1/projects/${projectId}/credentials/${credentialId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${(admin as any).token}` },
      body: JSON.stringify({ access: { ip: { allow: [{ name: 'x', cidrs: ['10.0.0.0/33'] }] }, time: { mode: 'allow', timeZone: 'Mars/Base', windows: [{}] } } }),
    });
    expect(res.status).toBe(400);
    const problem = await res.json();
    expect(JSON.stringify(problem)).toContain('access.ip.allow.0.cidrs.0');
    await setAccess({ acl: { deniedMethods: ['DELETE'] } });
    expect((await admin.call('GET', `/api/v1/projects/${projectId}/credentials/${credentialId}`)).access).toEqual({
      acl: { allowedProxies: null, deniedProxies: [], allowedEndpoints: [], deniedEndpoints: [], allowedMethods: null, deniedMethods: ['DELETE'] },
    });
  });

  it('enforces each rule on both gateways with its own status and reason code', async () => {
    await setAccess({ acl: { allowedEndpoints: [{ path: '/items/**' }], deniedMethods: ['DELETE'] } });
    for (const r of await both('/shop/admin', (r) => r.status === 403, 'ACL endpoint')) expect(r.body).toEqual({ code: 'acl_endpoint_denied', message: expect.any(String), requestId: expect.any(String) });
    for (const r of await both('/shop/items/1', (r) => r.status === 403, 'ACL method', {}, 'DELETE')) expect(r.body.code).toBe('acl_method_denied');
    expect((await call(gateways[0], '/shop/items/1')).status).toBe(200);

    await setAccess({ time: { mode: 'restrict', timeZone: 'Europe/Istanbul', windows: [{}] } });
    for (const r of await both('/shop/items/1', (r) => r.status === 403, 'time window')) expect(r.body.code).toBe('time_restricted');

    await setAccess({ geo: { deniedCountries: ['US'] } });
    const geo = await eventually(() => call(gateways[0], '/shop/x', { 'x-forwarded-for': '8.8.8.8' }), (r) => r.status === 403, { what: 'geo: US client via trusted hop' });
    expect(geo.body.code).toBe('geo_denied');
    // gateway-b ignores the header: the client is 127.0.0.1, an unknown location, allowed by default.
    expect((await call(gateways[1], '/shop/x', { 'x-forwarded-for': '8.8.8.8' })).status).toBe(200);
    await setAccess({ geo: { unknownLocation: 'deny' } });
    for (const r of await both('/shop/x', (r) => r.status === 403, 'geo unknown location')) expect(r.body.code).toBe('geo_unknown_location');
  }, 60000);

  it('takes the client IP from X-Forwarded-For only from trusted hops (spoofing is ignored)', async () => {
    await setAccess({ ip: { allow: [{ name: 'partner-office', cidrs: ['203.0.113.0/24', '2001:db8::/32'] }] } });
    const spoof = { 'x-forwarded-for': '203.0.113.5' };
    const [a] = [await eventually(() => call(gateways[0], '/shop/x', spoof), (r) => r.status === 200, { what: 'trusted hop: XFF client inside the group' })];
    expect(a.body.headers['x-forwarded-for']).toBe('203.0.113.5, 127.0.0.1');
    const b = await eventually(() => call(gateways[1], '/shop/x', spoof), (r) => r.status === 403, { what: 'untrusted hop: XFF ignored' });
    expect(b.body.code).toBe('ip_denied');
    expect((await call(gateways[0], '/shop/x', { 'x-forwarded-for': '198.51.100.1' })).body.code).toBe('ip_denied');
    expect((await call(gateways[0], '/shop/x', { 'x-forwarded-for': '2001:db8::7' })).status).toBe(200);
  }, 60000);

  it('authenticates curl --basic and then applies the same rules', async () => {
    await setAccess({ acl: { deniedMethods: ['POST'] } });
    const url = `${gateways[1].baseUrl}/legacy/hello`;
    const ok = await eventually(() => curl(['--basic', '-u', 'partner:partner-password', url]), (r) => r.status === 200, { what: 'curl --basic' });
    expect(ok.body.headers['x-authenticated-userid']).toBe('partner');
    expect(ok.body.headers.authorization).toBeUndefined();
    expect((await curl(['--basic', '-u', 'partner:partner-password', '-X', 'POST', url])).body.code).toBe('acl_method_denied');
    expect(await curl(['--basic', '-u', 'partner:wrong', url])).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
    expect(await curl(['-H', 'Authorization: Basic !!!', url])).toMatchObject({ status: 401, body: { code: 'malformed_credentials' } });
    expect(await curl(['-H', `Authorization: Basic ${'A'.repeat(12_000)}`, url])).toMatchObject({ status: 401, body: { code: 'malformed_credentials' } });
  }, 60000);

  it('shares one per-credential limit of N across both gateways under concurrent load', async () => {
    const N = 200;
    await setAccess({ rateLimit: { limits: [{ limit: N, windowSeconds: 300, algorithm: 'sliding' }] } });
    await both('/shop/probe', (r) => r.headers.get('ratelimit-limit') === String(N), 'limit active');
    // The two probes above were admitted and count too.
    const demand = 3 * N;
    let next = 0;
    const statuses: number[] = [];
    const worker = async () => {
      while (next < demand) {
        const i = next++;
        const res = await fetch(`${gateways[i % 2].baseUrl}/shop/load`, { headers: { 'x-api-key': apiKey } });
        statuses.push(res.status);
        if (res.status === 429) {
          expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
          expect(res.headers.get('ratelimit-remaining')).toBe('0');
          expect((await res.json()).code).toBe('rate_limited');
        } else await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 40 }, worker));
    const admitted = statuses.filter((s) => s === 200).length + 2;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(admitted).toBeLessThanOrEqual(N);
    expect(admitted).toBeGreaterThanOrEqual(Math.ceil(0.99 * N));
  }, 60000);

  it('fails open or closed per rule when Redis is unreachable', async () => {
    await setAccess({ rateLimit: { limits: [{ limit: 1000, windowSeconds: 60 }], onStoreUnavailable: 'deny' } });
    await both('/shop/a', (r) => r.headers.get('ratelimit-limit') === '1000', 'closed rule active');
    await redis.stop();
    try {
      for (const g of gateways) expect((await call(g, '/shop/a')).body).toMatchObject({ code: 'rate_limit_unavailable' });
      const metrics = await fetch(`${gateways[0].baseUrl}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/idm_gateway_rate_limit_store_errors_total [1-9]/);
    } finally {
      await redis.start();
    }
    await setAccess({ rateLimit: { limits: [{ limit: 1000, windowSeconds: 60 }], onStoreUnavailable: 'allow' } });
    // A 200 with Redis up does not tell the rules apart: wait until both Gateways run the new revision.
    const { revision } = (await admin.call('GET', '/api/v1/environments')).find((e: { name: string }) => e.name === ENV);
    await Promise.all(gateways.map((g) => eventually(() => fetch(`${g.baseUrl}/health/ready`).then((r) => r.json()), (b: any) => b.revision >= revision, { what: `${g.name} at revision ${revision}` })));
    await both('/shop/b', (r) => r.status === 200, 'open rule active after Redis is back');
    await redis.stop();
    try {
      for (const g of gateways) expect((await call(g, '/shop/b')).status).toBe(200);
    } finally {
      await redis.start();
    }
  }, 90000);
});
