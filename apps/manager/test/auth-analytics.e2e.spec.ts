import { AppProcess, eventually } from '@idm/test-kit';
import { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { EventStreamReader } from './support/event-stream';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';

/**
 * Gateway -> Redis stream -> indexer -> PostgreSQL -> /api/v1/analytics/auth, and the live tail
 * fed by every Gateway through Redis: two Gateways, two Managers (one a process, one in this
 * test) on one database and a private Redis; readers see only their projects' records.
 */
describe('authentication analytics and live tails (end to end)', () => {
  const ENV = 'analytics';
  let cluster: Cluster;
  let indexer: AppProcess;
  let second: InProcessManager;
  let secondUrl: string;
  let admin: AdminClient;
  const projects: Record<'shop' | 'other', { id: string; key: string; credentialId: string }> = {} as never;
  let viewerToken: string;
  let nobodyToken: string;
  /** A reader of one team of the shop project: sees the records of that team's proxies and credentials. */
  let teamToken: string;
  const team = { key: '', credentialId: '', proxyId: '' };
  let adminToken: string;

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV });
    admin = cluster.admin;
    indexer = new AppProcess(
      'indexer',
      'apps/indexer/dist/main.js',
      { REDIS_URL: cluster.redis.url, DATABASE_URL: cluster.database.url!, ELASTICSEARCH_URL: '', LOG_LEVEL: 'info' },
      '',
    );
    await indexer.startUntilOutput(/indexer running/);
    second = await startInProcessManager(cluster.database, { REDIS_URL: cluster.redis.url });
    await second.app.listen(0, '127.0.0.1');
    secondUrl = `http://127.0.0.1:${(second.app.getHttpServer().address() as { port: number }).port}`;
    for (const name of ['shop', 'other'] as const) {
      const projectId = (await admin.projects.create({ name })).id;
      await admin.proxies.create(projectId, { name, basePath: `/${name}`, upstreamUrl: cluster.echoUrl, policies: [{ type: 'api-key', config: {} }], environments: [ENV] });
      const credential = await admin.credentials.create(projectId, { username: `${name}-client` });
      projects[name] = { id: projectId, key: credential.apiKey!.key, credentialId: credential.id };
    }
    const teamId = (await admin.call('POST', `/api/v1/projects/${projects.shop.id}/teams`, { name: 'shop-team' })).id;
    team.proxyId = (
      await admin.proxies.create(projects.shop.id, {
        name: 'shop-team',
        basePath: '/shop-team',
        upstreamUrl: cluster.echoUrl,
        policies: [{ type: 'api-key', config: {} }],
        environments: [ENV],
        teamId,
      })
    ).id;
    const teamCredential = await admin.credentials.create(projects.shop.id, { username: 'team-client', teamId });
    Object.assign(team, { key: teamCredential.apiKey!.key, credentialId: teamCredential.id });
    const analyst = await admin.call('POST', '/api/v1/roles', { name: 'team-analyst', permissions: ['analytics:read'] });
    const teamReader = await admin.call('POST', '/api/v1/users', { username: 'team-reader', password: 'team-reader-password' });
    await admin.call('POST', '/api/v1/role-bindings', { roleId: analyst.id, subject: { type: 'user', id: teamReader.id }, scope: { type: 'team', id: teamId } });
    const roles = await admin.call('GET', '/api/v1/roles');
    for (const [username, bind] of [
      ['viewer', true],
      ['nobody', false],
    ] as const) {
      const user = await admin.call('POST', '/api/v1/users', { username, password: `${username}-password` });
      if (bind)
        await admin.call('POST', '/api/v1/role-bindings', {
          roleId: roles.find((r: { name: string }) => r.name === 'project-viewer').id,
          subject: { type: 'user', id: user.id },
          scope: { type: 'project', id: projects.shop.id },
        });
    }
    const login = async (username: string, password: string) => {
      const res = await fetch(`${cluster.manager.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      if (!res.ok) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
      return (await res.json()).token as string;
    };
    viewerToken = await login('viewer', 'viewer-password');
    nobodyToken = await login('nobody', 'nobody-password');
    teamToken = await login('team-reader', 'team-reader-password');
    // The in-process Manager set the admin password of the shared database to its own at boot.
    adminToken = await login(ADMIN.username, ADMIN.password);
    for (const g of cluster.gateways)
      for (const [name, key] of [
        ['shop', projects.shop.key],
        ['other', projects.other.key],
        ['shop-team', team.key],
      ])
        await eventually(
          () => fetch(`${g.baseUrl}/${name}/x`, { headers: { 'x-api-key': key } }).then((r) => r.status),
          (s) => s === 200,
          { what: `${g.name} serves /${name}`, timeoutMs: 90_000 },
        );
  }, 480_000);

  afterAll(async () => {
    await second?.close();
    await indexer?.stop();
    await cluster?.stop();
  }, 180_000);

  /**
   * A test's own calls carry its user agent: a tail sees whatever is published while it is open,
   * including a warm-up record a Gateway's batch timer sends a moment after the tail subscribed.
   */
  const call = (gateway: number, path: string, key: string, agent = 'auth-analytics-e2e') =>
    fetch(cluster.gateways[gateway].baseUrl + path, { headers: { 'x-api-key': key, 'user-agent': agent } }).then((r) => r.status);
  const callsOf = (tail: EventStreamReader, agent: string) => tail.events.filter((r) => r.userAgent === agent);

  it('tails the records of every Gateway on any Manager, filtered by the reader and the query', async () => {
    const adminTail = await EventStreamReader.open(`${secondUrl}/api/v1/analytics/auth/stream?outcome=denied`, adminToken);
    const viewerTail = await EventStreamReader.open(`${secondUrl}/api/v1/analytics/auth/stream`, viewerToken);
    expect([adminTail.status, viewerTail.status]).toEqual([200, 200]);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the subscriptions open
    const wrong = `${projects.shop.key.slice(0, 12)}_${'w'.repeat(32)}`;
    const agent = 'tail-by-reader';
    expect(await call(0, '/shop/a', wrong, agent)).toBe(401);
    expect(await call(1, '/other/a', 'not-a-key-at-all', agent)).toBe(401);
    expect(await call(1, '/shop/a', projects.shop.key, agent)).toBe(200);
    await eventually(
      async () => callsOf(adminTail, agent).length,
      (n) => n >= 2,
      { what: 'two denials on the admin tail' },
    );
    await eventually(
      async () => callsOf(viewerTail, agent).length,
      (n) => n >= 2,
      { what: "the viewer's two shop records" },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await Promise.all([adminTail.close(), viewerTail.close()]);
    expect(adminTail.events.every((r) => r.outcome === 'denied')).toBe(true); // the query's filter, on whatever arrived
    expect(viewerTail.events.every((r) => r.projectId === projects.shop.id)).toBe(true); // the reader's filter
    expect(
      callsOf(adminTail, agent)
        .map((r) => [r.outcome, r.reason, r.proxyName, r.gatewayId !== undefined])
        .sort(),
    ).toEqual([
      ['denied', 'invalid_api_key', 'other', true],
      ['denied', 'invalid_api_key', 'shop', true],
    ]);
    expect(new Set(callsOf(adminTail, agent).map((r) => r.gatewayId)).size).toBe(2); // both Gateways
    expect(
      callsOf(viewerTail, agent)
        .map((r) => [r.projectId, r.outcome])
        .sort(),
    ).toEqual([
      [projects.shop.id, 'denied'],
      [projects.shop.id, 'success'],
    ]);
    expect(JSON.stringify(adminTail.events)).not.toContain(wrong);
  });

  it('answers counts by outcome, reason, credential, proxy over buckets, and the top failing credentials and addresses', async () => {
    const before = (await admin.analytics.auth({ environment: ENV })).total;
    for (let i = 0; i < 3; i++) expect(await call(i % 2, '/shop/b', projects.shop.key)).toBe(200);
    for (let i = 0; i < 2; i++) expect(await call(i % 2, '/other/b', `${projects.other.key.slice(0, 12)}_${'z'.repeat(32)}`)).toBe(401);
    const answer = await eventually(
      () => admin.analytics.auth({ environment: ENV, bucket: 'minute', from: new Date(Date.now() - 3_600_000).toISOString() }),
      (a) => a.total >= before + 5,
      { what: 'the new records indexed', timeoutMs: 30_000 },
    );
    const shop = answer.byCredential.find((c) => c.credentialId === projects.shop.credentialId);
    expect(shop).toMatchObject({ username: 'shop-client' });
    expect(shop!.count).toBeGreaterThanOrEqual(4);
    expect(answer.byReason.find((r) => r.reason === 'invalid_api_key')!.count).toBeGreaterThanOrEqual(4);
    expect(answer.byProxy.map((p) => p.proxyName).sort()).toEqual(['other', 'shop', 'shop-team']);
    expect(answer.topFailingAddresses[0]).toMatchObject({ clientIp: '127.0.0.1' });
    expect(answer.series.reduce((sum, b) => sum + b.success + b.denied + b.throttled + b.blocked, 0)).toBe(answer.total);
    expect(answer.byOutcome.reduce((sum, o) => sum + o.count, 0)).toBe(answer.total);

    // The second Manager answers the same from the same store; the viewer sees only the shop.
    const viewer = await fetch(`${secondUrl}/api/v1/analytics/auth?environment=${ENV}`, { headers: { authorization: `Bearer ${viewerToken}` } }).then((r) => r.json());
    expect(viewer.byProxy.map((p: { proxyName: string }) => p.proxyName).sort()).toEqual(['shop', 'shop-team']); // the whole project, its team's proxy too
    expect(viewer.total).toBeLessThan(answer.total);
    const shopProxyId = answer.byProxy.find((p) => p.proxyName === 'shop')!.proxyId!;
    const shopOnly = await admin.analytics.auth({ environment: ENV, proxyId: shopProxyId, outcome: 'success' });
    const viewerShop = await fetch(`${secondUrl}/api/v1/analytics/auth?environment=${ENV}&proxyId=${shopProxyId}`, { headers: { authorization: `Bearer ${viewerToken}` } }).then(
      (r) => r.json(),
    );
    expect(shopOnly.byOutcome).toEqual([{ outcome: 'success', count: viewerShop.byOutcome.find((o: { outcome: string }) => o.outcome === 'success').count }]);
  });

  it("shows a team-scoped reader the records of its team's proxies and credentials, in the analytics and the tail", async () => {
    const teamTail = await EventStreamReader.open(`${secondUrl}/api/v1/analytics/auth/stream`, teamToken);
    expect(teamTail.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the subscription opens, the team's resources are read
    const agent = 'tail-by-team';
    expect(await call(0, '/shop-team/t', team.key, agent)).toBe(200); // the team's proxy and credential
    expect(await call(1, '/shop-team/t', 'not-a-key-at-all', agent)).toBe(401); // the team's proxy, no credential
    expect(await call(0, '/shop/t', team.key, agent)).toBe(200); // the team's credential on another proxy of the project
    expect(await call(1, '/shop/t', projects.shop.key, agent)).toBe(200); // neither: the project's proxy and a credential outside the team
    expect(await call(0, '/other/t', projects.other.key, agent)).toBe(200); // another project
    await eventually(
      async () => callsOf(teamTail, agent).length,
      (n) => n >= 3,
      { what: "the team's three records on its tail" },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await teamTail.close();
    const seen = (r: { proxyId: string | null; credentialId: string | null }) => r.proxyId === team.proxyId || r.credentialId === team.credentialId;
    expect(callsOf(teamTail, agent)).toHaveLength(3);
    expect(teamTail.events.every(seen)).toBe(true);

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const get = (token: string, filter = '') =>
      fetch(`${secondUrl}/api/v1/analytics/auth?environment=${ENV}&from=${since}${filter}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
    await eventually(
      () => get(adminToken, `&credentialId=${team.credentialId}&proxyId=${team.proxyId}`),
      (a) => a.total >= 3, // the two warm-up calls and the one above
      { what: "the team's records indexed", timeoutMs: 30_000 },
    );
    await eventually(
      () => get(adminToken, `&credentialId=${team.credentialId}`),
      (a) => a.byProxy.some((p: { proxyName: string }) => p.proxyName === 'shop'),
      { what: "the team credential's call through /shop indexed", timeoutMs: 30_000 },
    );
    // What the team sees = records of its proxy + records of its credential - records of both.
    const [byProxy, byCredential, byBoth, mine, all] = await Promise.all([
      get(adminToken, `&proxyId=${team.proxyId}`),
      get(adminToken, `&credentialId=${team.credentialId}`),
      get(adminToken, `&proxyId=${team.proxyId}&credentialId=${team.credentialId}`),
      get(teamToken),
      get(adminToken),
    ]);
    expect(mine.total).toBe(byProxy.total + byCredential.total - byBoth.total);
    expect(mine.total).toBeLessThan(all.total);
    expect(mine.byProxy.map((p: { proxyName: string }) => p.proxyName).sort()).toEqual(['shop', 'shop-team']);
    expect(new Set(mine.byCredential.map((c: { username: string }) => c.username))).toEqual(new Set(['team-client']));
    expect(mine.byReason.find((r: { reason: string }) => r.reason === 'invalid_api_key')?.count).toBe(
      byProxy.byReason.find((r: { reason: string }) => r.reason === 'invalid_api_key')?.count,
    );
  });

  it('refuses bad input with a reason and a reader without analytics:read with the permission named', async () => {
    const get = (path: string, token = adminToken) =>
      fetch(`${secondUrl}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const month = new Date(Date.now() - 30 * 86_400_000).toISOString();
    expect(await get(`/api/v1/analytics/auth?bucket=minute&from=${month}`)).toMatchObject({ status: 400, body: { code: 'too_many_buckets' } });
    expect(await get(`/api/v1/analytics/auth?from=${new Date().toISOString()}&to=${month}`)).toMatchObject({ status: 400, body: { code: 'invalid_window' } });
    for (const bad of ['bucket=week', 'top=0', 'outcome=maybe', 'from=yesterday', 'surprise=1', `environment=${'x'.repeat(300)}`]) {
      expect(await get(`/api/v1/analytics/auth?${bad}`)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    }
    expect((await get('/api/v1/analytics/auth/stream?outcome=maybe')).status).toBe(400);
    for (const path of ['/api/v1/analytics/auth', '/api/v1/analytics/auth/stream']) {
      expect(await get(path, nobodyToken)).toMatchObject({ status: 403, body: { permission: 'analytics:read' } });
    }
  });

  it('tails the audit events committed through another Manager', async () => {
    const tail = await EventStreamReader.open(`${secondUrl}/api/v1/audit/stream`, adminToken);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await admin.credentials.create(projects.shop.id, { username: 'made-elsewhere' }); // through the Manager process
    await eventually(async () => tail.events.find((e) => e.action === 'credential.create'), Boolean, { what: 'the other Manager’s change on this tail' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await tail.close();
    expect(tail.events.filter((e) => e.action === 'credential.create')).toHaveLength(1);
  });
});
