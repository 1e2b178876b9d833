import Redis from 'ioredis';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { curl, eventually, type AppProcess, type RedisProcess } from '@idm/test-kit';

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
    fetch(g.baseUrl + path, { method, headers: { 'x-api-key': apiKey, ...headers } }).then(async (r) => ({
      status: r.status,
      headers: r.headers,
      body: await r.json().catch(() => undefined),
    }));
  const setAccess = async (access: any) => {
    await admin.credentials.update(projectId, credentialId, { access });
  };
  const both = (path: string, accept: (r: Awaited<ReturnType<typeof call>>) => boolean, what: string, headers?: Record<string, string>, method?: string) =>
    Promise.all(gateways.map((g) => eventually(() => call(g, path, headers, method), accept, { what: `${g.name}: ${what}` })));
  /** Calls one Gateway one request after another until `done` or `max` requests. */
  const callUntil = async (g: AppProcess, path: string, done: (r: Awaited<ReturnType<typeof call>>) => boolean, max: number) => {
    const seen: Awaited<ReturnType<typeof call>>[] = [];
    while (seen.length < max && (seen.length === 0 || !done(seen[seen.length - 1]))) seen.push(await call(g, path));
    return seen;
  };
  /** `demand` requests from 40 concurrent clients, alternating between the Gateways; every 429 is checked. */
  const loadBothGateways = async (demand: number) => {
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
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    return statuses.filter((s) => s === 200).length;
  };
  const storeErrors = async (g: AppProcess) =>
    Number(/^idm_gateway_rate_limit_store_errors_total (\d+)/m.exec(await fetch(`${g.baseUrl}/metrics`).then((r) => r.text()))?.[1] ?? 0);

  beforeAll(async () => {
    // gateway-a believes X-Forwarded-For from 127.0.0.1 (as if behind a load balancer there);
    // gateway-b trusts no hop, so the same header is a spoof it must ignore.
    // No auth records: the lease test counts this Redis's EVALSHA calls, and each Gateway's record
    // batch (every 100 ms under load) is one too — CI saw 811 against the bound of 500 on a slow run.
    const clientIp = (trusted: string) => ({
      GATEWAY_CLIENT_IP_HEADER: 'x-forwarded-for',
      GATEWAY_CLIENT_IP_POSITION: 'last',
      GATEWAY_TRUSTED_PROXIES: trusted,
      AUTH_RECORDS: 'false',
    });
    cluster = await startCluster({ environment: ENV, gateways: [clientIp('127.0.0.1'), clientIp('10.255.255.254')] });
    ({ redis, echoUrl, manager, gateways, admin } = cluster);
    projectId = (await admin.projects.create({ name: 'rules' })).id;
    await admin.proxies.create(projectId, {
      name: 'shop',
      basePath: '/shop',
      upstreamUrl: echoUrl,
      methods: ['GET', 'POST', 'DELETE'],
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    await admin.proxies.create(projectId, { name: 'legacy', basePath: '/legacy', upstreamUrl: echoUrl, policies: [{ type: 'basic-auth', config: {} }], environments: [ENV] });
    const credential = await admin.credentials.create(projectId, { username: 'partner', password: 'partner-password' });
    credentialId = credential.id;
    apiKey = credential.apiKey!.key;
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
    expect((await admin.credentials.get(projectId, credentialId)).access).toEqual({
      acl: { allowedProxies: null, deniedProxies: [], allowedEndpoints: [], deniedEndpoints: [], allowedMethods: null, deniedMethods: ['DELETE'] },
    });
  });

  it('enforces each rule on both gateways with its own status and reason code', async () => {
    await setAccess({ acl: { allowedEndpoints: [{ path: '/items/**' }], deniedMethods: ['DELETE'] } });
    for (const r of await both('/shop/admin', (r) => r.status === 403, 'ACL endpoint'))
      expect(r.body).toEqual({ code: 'acl_endpoint_denied', message: expect.any(String), requestId: expect.any(String) });
    for (const r of await both('/shop/items/1', (r) => r.status === 403, 'ACL method', {}, 'DELETE')) expect(r.body.code).toBe('acl_method_denied');
    expect((await call(gateways[0], '/shop/items/1')).status).toBe(200);

    await setAccess({ time: { mode: 'restrict', timeZone: 'Europe/Istanbul', windows: [{}] } });
    for (const r of await both('/shop/items/1', (r) => r.status === 403, 'time window')) expect(r.body.code).toBe('time_restricted');

    await setAccess({ geo: { deniedCountries: ['US'] } });
    const geo = await eventually(
      () => call(gateways[0], '/shop/x', { 'x-forwarded-for': '8.8.8.8' }),
      (r) => r.status === 403,
      { what: 'geo: US client via trusted hop' },
    );
    expect(geo.body.code).toBe('geo_denied');
    // gateway-b ignores the header: the client is 127.0.0.1, an unknown location, allowed by default.
    expect((await call(gateways[1], '/shop/x', { 'x-forwarded-for': '8.8.8.8' })).status).toBe(200);
    await setAccess({ geo: { unknownLocation: 'deny' } });
    for (const r of await both('/shop/x', (r) => r.status === 403, 'geo unknown location')) expect(r.body.code).toBe('geo_unknown_location');
  }, 60000);

  it('takes the client IP from X-Forwarded-For only from trusted hops (spoofing is ignored)', async () => {
    await setAccess({ ip: { allow: [{ name: 'partner-office', cidrs: ['203.0.113.0/24', '2001:db8::/32'] }] } });
    const spoof = { 'x-forwarded-for': '203.0.113.5' };
    const [a] = [
      await eventually(
        () => call(gateways[0], '/shop/x', spoof),
        (r) => r.status === 200,
        { what: 'trusted hop: XFF client inside the group' },
      ),
    ];
    expect(a.body.headers['x-forwarded-for']).toBe('203.0.113.5, 127.0.0.1');
    const b = await eventually(
      () => call(gateways[1], '/shop/x', spoof),
      (r) => r.status === 403,
      { what: 'untrusted hop: XFF ignored' },
    );
    expect(b.body.code).toBe('ip_denied');
    expect((await call(gateways[0], '/shop/x', { 'x-forwarded-for': '198.51.100.1' })).body.code).toBe('ip_denied');
    expect((await call(gateways[0], '/shop/x', { 'x-forwarded-for': '2001:db8::7' })).status).toBe(200);
  }, 60000);

  it('authenticates curl --basic and then applies the same rules', async () => {
    await setAccess({ acl: { deniedMethods: ['POST'] } });
    const url = `${gateways[1].baseUrl}/legacy/hello`;
    const ok = await eventually(
      () => curl(['--basic', '-u', 'partner:partner-password', url]),
      (r) => r.status === 200,
      { what: 'curl --basic' },
    );
    expect(ok.body.headers['x-authenticated-userid']).toBe('partner');
    expect(ok.body.headers.authorization).toBeUndefined();
    expect((await curl(['--basic', '-u', 'partner:partner-password', '-X', 'POST', url])).body.code).toBe('acl_method_denied');
    expect(await curl(['--basic', '-u', 'partner:wrong', url])).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
    expect(await curl(['-H', 'Authorization: Basic !!!', url])).toMatchObject({ status: 401, body: { code: 'malformed_credentials' } });
    expect(await curl(['-H', `Authorization: Basic ${'A'.repeat(12_000)}`, url])).toMatchObject({ status: 401, body: { code: 'malformed_credentials' } });
  }, 60000);

  it('shares one per-credential limit of N across both gateways under concurrent load (sliding: exact per request)', async () => {
    const N = 200;
    await setAccess({ rateLimit: { limits: [{ limit: N, windowSeconds: 300, algorithm: 'sliding' }] } });
    await both('/shop/probe', (r) => r.headers.get('ratelimit-limit') === String(N), 'limit active');
    // The two probes above were admitted and count too.
    const admitted = (await loadBothGateways(3 * N)) + 2;
    expect(admitted).toBeLessThanOrEqual(N);
    expect(admitted).toBeGreaterThanOrEqual(Math.ceil(0.99 * N));
  }, 60000);

  it('shares a fixed-window limit of N across both gateways from leases, with a fraction of the Redis round trips', async () => {
    const N = 2000;
    const WINDOW = 3600;
    // The load must not straddle two windows (the count starts again in the next one).
    const msLeft = WINDOW * 1000 - (Date.now() % (WINDOW * 1000));
    if (msLeft < 30_000) await new Promise((r) => setTimeout(r, msLeft + 100));
    await setAccess({ rateLimit: { limits: [{ limit: N, windowSeconds: WINDOW }] } });
    await both('/shop/probe', (r) => r.headers.get('ratelimit-limit') === String(N), 'limit active');
    const stats = new Redis(redis.url);
    const scriptCalls = async () => Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(await stats.info('commandstats'))?.[1] ?? 0);
    try {
      const before = await scriptCalls();
      const admitted = (await loadBothGateways(3 * N)) + 2;
      expect(admitted).toBeLessThanOrEqual(N);
      expect(admitted).toBeGreaterThanOrEqual(Math.ceil(0.99 * N));
      // One round trip per request would be 3N; leases need a few per hundred admissions.
      expect((await scriptCalls()) - before).toBeLessThan(N / 4);
    } finally {
      stats.disconnect();
    }
  }, 90000);

  it('fails open or closed per rule once a Gateway needs Redis while it is unreachable (its lease still admits)', async () => {
    const LIMIT = 1000;
    // A Gateway's first grant is a 16th of what is left: the most it can admit with Redis gone.
    const leaseBound = Math.floor(LIMIT / 16);
    const limits = [{ limit: LIMIT, windowSeconds: 1800 }];
    await setAccess({ rateLimit: { limits, onStoreUnavailable: 'deny' } });
    await both('/shop/a', (r) => r.headers.get('ratelimit-limit') === String(LIMIT), 'closed rule active');
    await redis.stop();
    try {
      for (const g of gateways) {
        const seen = await callUntil(g, '/shop/a', (r) => r.status !== 200, leaseBound + 1);
        const fromLease = seen.length - 1;
        expect(fromLease).toBeGreaterThan(0);
        expect(fromLease).toBeLessThan(leaseBound);
        expect(seen[fromLease]).toMatchObject({ status: 503, body: { code: 'rate_limit_unavailable' } });
        expect((await call(g, '/shop/a')).status).toBe(503); // and so on while Redis is away
      }
      for (const g of gateways) expect(await storeErrors(g)).toBeGreaterThan(0);
    } finally {
      await redis.start();
    }
    await setAccess({ rateLimit: { limits, onStoreUnavailable: 'allow' } });
    // A 200 with Redis up does not tell the rules apart: wait until both Gateways run the new revision.
    const { revision } = await admin.environments.named(ENV);
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => fetch(`${g.baseUrl}/health/ready`).then((r) => r.json()),
          (b: any) => b.revision >= revision,
          { what: `${g.name} at revision ${revision}` },
        ),
      ),
    );
    await both('/shop/b', (r) => r.status === 200, 'open rule active after Redis is back');
    const errorsBefore = await Promise.all(gateways.map(storeErrors));
    await redis.stop();
    try {
      // More requests than any lease holds: the later ones need Redis and are let through.
      for (const g of gateways)
        expect((await callUntil(g, '/shop/b', (r) => r.status !== 200, leaseBound + 10)).map((r) => r.status)).toEqual(new Array(leaseBound + 10).fill(200));
      const errorsAfter = await Promise.all(gateways.map(storeErrors));
      errorsAfter.forEach((n, i) => expect(n).toBeGreaterThan(errorsBefore[i]));
    } finally {
      await redis.start();
    }
  }, 90000);
});
