import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { curl, eventually, type AppProcess } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';

/**
 * Brute-force protection at the edge, through two Gateway processes sharing one Redis: 60 wrong
 * passwords lock a credential on both Gateways (the right password too), other users pass, the
 * lock ends with its lockout (not earlier, however often the right password is tried) and the
 * next one lasts twice as long; an address is blocked across credentials and API keys; an admin
 * sees and lifts blocks through the Manager; a webhook hears of each block. The Gateways trust
 * X-Forwarded-For, so each case speaks from addresses of its own. Short windows keep it quick.
 */
describe('brute-force protection across two Gateways', () => {
  const ENV = 'brute-force';
  const MASTER_KEYS = `k1:${Buffer.alloc(32, 9).toString('base64')}`;
  // Long enough for a loaded machine (each wrong password costs an argon2 check) to make its
  // assertions inside a lock, short enough to wait one out.
  const LOCKOUT_SECONDS = 30;
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let envId: string;
  let apiKey: string;
  let webhook: Server;
  const alerts: any[] = [];

  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  /** A request to the Basic proxy through Gateway `i % 2`, from `address`. */
  const viaBasic = async (i: number, address: string, user: string, password: string) => {
    const res = await fetch(`${gateways[i % 2].baseUrl}/bf-basic/hello`, { headers: { authorization: basic(user, password), 'x-forwarded-for': address } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  };
  const viaKey = async (i: number, address: string, key: string) => {
    const res = await fetch(`${gateways[i % 2].baseUrl}/bf-key/hello`, { headers: { 'x-api-key': key, 'x-forwarded-for': address } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  };
  const blocks = (): Promise<any[]> => admin.call('GET', `/api/v1/environments/${envId}/blocks`);

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    const gatewayEnv = {
      IDM_MASTER_KEYS: MASTER_KEYS,
      GATEWAY_TRUST_PROXY: 'true',
      BRUTE_FORCE_PER_CREDENTIAL: '60',
      BRUTE_FORCE_PER_ADDRESS: '12',
      BRUTE_FORCE_PER_CREDENTIAL_ADDRESS: '5',
      BRUTE_FORCE_WINDOW_SECONDS: '300',
      BRUTE_FORCE_LOCKOUT_SECONDS: String(LOCKOUT_SECONDS),
      BRUTE_FORCE_MAX_LOCKOUT_SECONDS: '120',
      BRUTE_FORCE_ALERT_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`,
    };
    cluster = await startCluster({ environment: ENV, managerEnv: { IDM_MASTER_KEYS: MASTER_KEYS }, gateways: [gatewayEnv, gatewayEnv] });
    ({ gateways, admin } = cluster);
    envId = (await admin.environments.named(ENV)).id;
    const projectId = (await admin.projects.create({ name: 'brute-force' })).id;
    const proxy = (name: string, policies: { type: string; config: Record<string, unknown> }[]) =>
      admin.proxies.create(projectId, { name, basePath: `/${name}`, upstreamUrl: cluster.echoUrl, environments: [ENV], policies });
    await proxy('bf-basic', [{ type: 'basic-auth', config: {} }]);
    await proxy('bf-digest', [{ type: 'digest-auth', config: {} }]);
    await proxy('bf-b64', [{ type: 'base64-auth', config: {} }]);
    await proxy('bf-key', [{ type: 'api-key', config: {} }]);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) await admin.credentials.create(projectId, { username: user, password: `${user}-password`, issueApiKey: false });
    apiKey = (await admin.credentials.create(projectId, { username: 'keyed', issueApiKey: true })).apiKey!.key;
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => fetch(`${g.baseUrl}/bf-key/hello`, { headers: { 'x-api-key': apiKey, 'x-forwarded-for': '10.250.0.1' } }).then((r) => r.status),
          (s) => s === 200,
          { what: `${g.name} serving every proxy and credential` },
        ),
      ),
    );
  }, 300000);

  afterAll(async () => {
    if (process.env.BF_DEBUG) for (const g of gateways ?? []) console.log(g.name, g.output.join('').slice(-3000));
    await cluster?.stop();
    await new Promise((r) => webhook?.close(r));
  }, 30000);

  it('locks a credential after 60 wrong passwords spread over two Gateways and 60 addresses, on both at once, and no one else', async () => {
    // Four at a time: each wrong password costs the Gateway an argon2 check.
    for (let i = 0; i < 59; i += 4) {
      const batch = [i, i + 1, i + 2, i + 3].filter((n) => n < 59);
      const statuses = await Promise.all(batch.map(async (n) => (await viaBasic(n, `10.1.0.${n}`, 'alice', `guess-${n}`)).status));
      expect(statuses).toEqual(batch.map(() => 401));
    }
    expect((await viaBasic(0, '10.1.1.1', 'alice', 'alice-password')).status).toBe(200);
    expect((await viaBasic(59, '10.1.0.59', 'alice', 'guess-59')).status).toBe(401);
    const lockedAt = Date.now();
    // The other Gateway enforces it within a second, the right password included.
    const onOther = await eventually(
      () => viaBasic(0, '10.1.2.1', 'alice', 'alice-password'),
      (r) => r.status === 429,
      { what: 'the lock on the other Gateway', intervalMs: 20 },
    );
    expect(Date.now() - lockedAt).toBeLessThan(1_000);
    expect(onOther.body).toMatchObject({ code: 'credential_locked' });
    expect(Number(onOther.retryAfter)).toBeGreaterThan(0);
    expect(Number(onOther.retryAfter)).toBeLessThanOrEqual(LOCKOUT_SECONDS);
    expect(await viaBasic(1, '10.1.2.2', 'alice', 'alice-password')).toMatchObject({ status: 429, body: { code: 'credential_locked' } });
    expect(await viaBasic(1, '10.1.2.2', 'alice', 'wrong')).toMatchObject({ status: 429, body: { code: 'credential_locked' } });
    const [block] = (await blocks()).filter((b) => b.credential === 'alice');
    expect(block).toMatchObject({ detector: 'credential', address: null, failures: 60, strike: 1, source: 'proxy' });
    // Other users pass, also from the guessers' addresses.
    for (let i = 0; i < 4; i++) expect((await viaBasic(i, `10.1.0.${i}`, 'bob', 'bob-password')).status).toBe(200);

    await eventually(
      () => alerts.filter((a) => a.block.id === block.id),
      (a) => a.length === 1,
      { what: 'the webhook alert' },
    );
    expect(alerts.find((a) => a.block.id === block.id)).toMatchObject({ type: 'brute-force.blocked', environment: ENV, block: { credential: 'alice', detector: 'credential' } });

    // Right passwords during the lock do not end it early; it ends with its lockout, on both.
    while (Date.now() < Date.parse(block.until) - 2_000) {
      for (const i of [0, 1]) expect((await viaBasic(i, '10.1.3.1', 'alice', 'alice-password')).status).toBe(429);
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(block.until) - Date.now() + 50)));
    for (const i of [0, 1]) expect((await viaBasic(i, '10.1.3.1', 'alice', 'alice-password')).status).toBe(200);
  }, 600000);

  it('locks a repeat twice as long, and an admin lifts it on every Gateway at once (audited)', async () => {
    const guess = async (n: number) => {
      for (let i = 0; i < n; i++) expect((await viaBasic(i, '10.2.0.1', 'erin', `again-${i}`)).status).toBe(401);
    };
    const erinBlock = async () => (await blocks()).find((b) => b.credential === 'erin' && b.detector === 'credential-address');
    await guess(5);
    const first = await eventually<any>(erinBlock, Boolean, { what: "erin's first lock" });
    expect(first).toMatchObject({ strike: 1, address: '10.2.0.1' });
    await new Promise((r) => setTimeout(r, Date.parse(first.until) - Date.now() + 50));
    await guess(5);
    const second = await eventually(erinBlock, (b) => b?.strike === 2, { what: "erin's second lock" });
    expect(Date.parse(second.until) - Date.parse(second.blockedAt)).toBe(2 * LOCKOUT_SECONDS * 1000);
    expect(await viaBasic(1, '10.2.0.1', 'erin', 'erin-password')).toMatchObject({ status: 429, body: { code: 'credential_address_locked' } });
    await admin.call('DELETE', `/api/v1/environments/${envId}/blocks/${second.id}`);
    for (const i of [0, 1])
      await eventually(
        () => viaBasic(i, '10.2.0.1', 'erin', 'erin-password'),
        (r) => r.status === 200,
        { what: 'the lift', timeoutMs: 1_000, intervalMs: 20 },
      );
    const audit = await admin.call('GET', '/api/v1/audit?entityKind=brute-force-block');
    expect(audit.items[0]).toMatchObject({ action: 'brute-force-block.lift', entity: { id: second.id } });
  }, 300000);

  it('blocks an address after wrong API keys, for keys and passwords alike, leaving other addresses alone', async () => {
    for (let i = 0; i < 12; i++) expect((await viaKey(i, '10.3.0.1', `idm_wrong${i}`)).body.code).toBe('invalid_api_key');
    for (const i of [0, 1]) {
      const refused = await eventually(
        () => viaKey(i, '10.3.0.1', apiKey),
        (r) => r.status === 429,
        { what: 'the address block', timeoutMs: 1_000 },
      );
      expect(refused.body).toMatchObject({ code: 'address_blocked' });
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect(await viaBasic(i, '10.3.0.1', 'carol', 'carol-password')).toMatchObject({ status: 429, body: { code: 'address_blocked' } });
      expect((await viaKey(i, '10.3.0.2', apiKey)).status).toBe(200);
    }
    expect((await blocks()).find((b) => b.address === '10.3.0.1')).toMatchObject({ detector: 'address', credential: null });
  }, 120000);

  it('locks a credential at one address after wrong Digest and Base64 passwords, while it passes from elsewhere', async () => {
    const at = (address: string) => ['-H', `x-forwarded-for: ${address}`];
    for (let i = 0; i < 5; i++) {
      const g = gateways[i % 2];
      expect((await curl(['--digest', '-u', `dave:wrong-${i}`, ...at('10.4.0.1'), `${g.baseUrl}/bf-digest/x`])).body.code).toBe('invalid_credentials');
    }
    for (const g of gateways) {
      const locked = await eventually(
        () => curl(['--digest', '-u', 'dave:dave-password', ...at('10.4.0.1'), `${g.baseUrl}/bf-digest/x`]),
        (r) => r.status === 429,
        {
          what: 'the digest lock',
          timeoutMs: 5_000,
        },
      );
      expect(locked.body.code).toBe('credential_address_locked');
      expect((await curl(['--digest', '-u', 'dave:dave-password', ...at('10.4.0.2'), `${g.baseUrl}/bf-digest/x`])).status).toBe(200);
    }
    const b64 = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');
    for (let i = 0; i < 5; i++) {
      const g = gateways[i % 2];
      expect((await curl(['-H', `authorization: Basic ${b64('carol', `nope-${i}`)}`, ...at('10.4.1.1'), `${g.baseUrl}/bf-b64/x`])).status).toBe(401);
    }
    for (const g of gateways) {
      const locked = await eventually(
        () => curl(['-H', `authorization: Basic ${b64('carol', 'carol-password')}`, ...at('10.4.1.1'), `${g.baseUrl}/bf-b64/x`]),
        (r) => r.status === 429,
        {
          what: 'the base64 lock',
          timeoutMs: 5_000,
        },
      );
      expect(locked.body.code).toBe('credential_address_locked');
      expect((await curl(['-H', `authorization: Basic ${b64('carol', 'carol-password')}`, ...at('10.4.1.2'), `${g.baseUrl}/bf-b64/x`])).status).toBe(200);
    }
  }, 300000);
});
