import { randomBytes } from 'node:crypto';
import { eventually, type AppProcess } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { CLUSTER_ADMIN_PASSWORD, startCluster, type Cluster } from './support/cluster';

/**
 * A project's brute-force settings set in the Manager reach two running Gateway processes and
 * apply without a restart: a project lowered to 3 wrong passwords locks its credential on both
 * Gateways, while another project keeps the environment's detectors (BRUTE_FORCE_*, set high
 * here); removing the settings brings the environment's back. Bad input is refused with a
 * reason code and changes nothing, a project viewer may read but not write (403 naming
 * project:write), and every change is audited with its before and after.
 */
describe('brute-force settings per project, applied by running Gateways', () => {
  const ENV = 'bf-settings';
  const MASTER_KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let adminToken: string;
  let viewerToken: string;
  const projects: Record<'strict' | 'lenient', string> = { strict: '', lenient: '' };

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${cluster.manager.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const settingsPath = (project: keyof typeof projects) => `/api/v1/projects/${projects[project]}/brute-force-settings`;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  /** A Basic request to the project's proxy through Gateway `i % 2`, from an address of its own (the address detector stays out of the way). */
  const via = async (i: number, project: keyof typeof projects, user: string, password: string) => {
    const res = await fetch(`${gateways[i % 2].baseUrl}/${project}/hello`, {
      headers: { authorization: basic(user, password), 'x-forwarded-for': `10.9.${i % 250}.${1 + Math.floor(Math.random() * 250)}` },
    });
    return { status: res.status, body: (await res.json()) as { code?: string } };
  };
  const fresh = () => `u-${randomBytes(4).toString('hex')}`;
  const wrongThrice = async (project: keyof typeof projects, user: string, through: number[]) => {
    for (const i of through) expect((await via(i, project, user, 'wrong')).status).toBe(401);
  };
  /**
   * Waits (a few seconds: failures are counted after their answer) until both Gateways refuse
   * `user`. Each probe is one more failure on each Gateway, few enough (at most 3 + 2 x 8) to
   * stay under the environment's threshold of 50: a lock can come from the project's settings only.
   */
  const lockedOnBoth = (project: keyof typeof projects, user: string, what: string) =>
    eventually(
      () => Promise.all([0, 1].map((i) => via(i, project, user, 'wrong'))),
      (answers) => answers.every((a) => a.status === 429),
      { what, timeoutMs: 4_000, intervalMs: 500 },
    );

  beforeAll(async () => {
    const gatewayEnv = {
      IDM_MASTER_KEYS: MASTER_KEYS,
      GATEWAY_TRUST_PROXY: 'true',
      BRUTE_FORCE_PER_CREDENTIAL: '50',
      BRUTE_FORCE_PER_ADDRESS: '1000',
      BRUTE_FORCE_PER_CREDENTIAL_ADDRESS: '0',
      BRUTE_FORCE_LOCKOUT_SECONDS: '60',
      BRUTE_FORCE_MAX_LOCKOUT_SECONDS: '120',
    };
    cluster = await startCluster({ environment: ENV, managerEnv: { IDM_MASTER_KEYS: MASTER_KEYS }, gateways: [gatewayEnv, gatewayEnv] });
    ({ gateways, admin } = cluster);
    for (const name of ['strict', 'lenient'] as const) {
      projects[name] = (await admin.projects.create({ name: `bf-${name}` })).id;
      await admin.proxies.create(projects[name], { name, basePath: `/${name}`, upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'basic-auth', config: {} }] });
      await admin.credentials.create(projects[name], { username: 'alice', password: 'alice-password', issueApiKey: false });
    }
    const roles = await admin.call('GET', '/api/v1/roles');
    const viewer = await admin.call('POST', '/api/v1/users', { username: 'bf-viewer', password: 'bf-viewer-password' });
    await admin.call('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r: { name: string }) => r.name === 'project-viewer').id,
      subject: { type: 'user', id: viewer.id },
      scope: { type: 'project', id: projects.strict },
    });
    const login = async (username: string, password: string) => {
      const res = await fetch(`${cluster.manager.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      if (!res.ok) throw new Error(`login ${username}: ${res.status}`);
      return (await res.json()).token as string;
    };
    adminToken = await login('admin', CLUSTER_ADMIN_PASSWORD);
    viewerToken = await login('bf-viewer', 'bf-viewer-password');
    for (const g of gateways)
      for (const name of ['strict', 'lenient'] as const)
        await eventually(
          () => fetch(`${g.baseUrl}/${name}/hello`, { headers: { authorization: basic('alice', 'alice-password') } }).then((r) => r.status),
          (s) => s === 200,
          { what: `${g.name} serves /${name}`, timeoutMs: 120_000 },
        );
  }, 480_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('refuses bad settings with a reason code and writes nothing', async () => {
    const cases: unknown[] = [
      { perCredential: -1 },
      { perCredential: 'three' },
      { windowSeconds: 0 },
      { lockoutSeconds: 600, maxLockoutSeconds: 60 },
      { perAddress: 5 }, // not a project's to set: an address tries every project
      { perCredential: 3, secret: 'x' },
    ];
    for (const body of cases) {
      const answer = await api('PUT', settingsPath('strict'), adminToken, body);
      expect([answer.status, answer.body.code]).toEqual([400, 'validation_failed']);
      expect(JSON.stringify(answer.body.errors ?? answer.body)).not.toContain('"x"');
    }
    expect(await api('PUT', '/api/v1/projects/00000000-0000-4000-8000-000000000000/brute-force-settings', adminToken, { perCredential: 3 })).toMatchObject({ status: 404 });
    expect(await api('PUT', '/api/v1/projects/not-an-id/brute-force-settings', adminToken, { perCredential: 3 })).toMatchObject({ status: 400, body: { code: 'invalid_id' } });
    expect(await api('DELETE', settingsPath('strict'), adminToken)).toMatchObject({ status: 404 });
    expect(await api('GET', settingsPath('strict'), adminToken)).toEqual({ status: 200, body: null });
  });

  it('lets a project viewer read but not write (403 naming project:write)', async () => {
    expect(await api('GET', settingsPath('strict'), viewerToken)).toEqual({ status: 200, body: null });
    expect(await api('PUT', settingsPath('strict'), viewerToken, { perCredential: 3 })).toMatchObject({ status: 403, body: { permission: 'project:write' } });
    expect(await api('DELETE', settingsPath('strict'), viewerToken)).toMatchObject({ status: 403, body: { permission: 'project:write' } });
    expect(await api('GET', settingsPath('lenient'), viewerToken)).toMatchObject({ status: 403, body: { permission: 'project:read' } });
    expect(await api('GET', settingsPath('strict'), adminToken)).toEqual({ status: 200, body: null });
  });

  it("applies a project's settings on both Gateways without a restart, leaves other projects alone, and removes them again (audited)", async () => {
    const put = await api('PUT', settingsPath('strict'), adminToken, { perCredential: 3, lockoutSeconds: 60 });
    expect(put).toEqual({ status: 200, body: { perCredential: 3, lockoutSeconds: 60 } });
    expect(await api('GET', settingsPath('strict'), viewerToken)).toEqual({ status: 200, body: { perCredential: 3, lockoutSeconds: 60 } });
    // The Gateways hear of it within moments (each round a fresh user).
    await eventually(
      async () => {
        const user = fresh();
        await wrongThrice('strict', user, [0, 1, 0]);
        return (await lockedOnBoth('strict', user, 'a lock after three failures'))[1].body.code;
      },
      (code) => code === 'credential_locked',
      { what: 'the strict settings on the Gateways', timeoutMs: 60_000 },
    );
    // Failures counted on either Gateway alone reach the project's threshold: each applies the settings.
    for (const only of [0, 1]) {
      const user = fresh();
      await wrongThrice('strict', user, [only, only, only]);
      await lockedOnBoth('strict', user, `a lock from failures on gateway ${only} alone`);
    }
    // The other project keeps the environment's detectors: its alice passes after as many failures.
    const strictUser = fresh();
    await Promise.all([wrongThrice('strict', strictUser, [0, 1, 0]), wrongThrice('lenient', 'alice', [0, 1, 0])]);
    await lockedOnBoth('strict', strictUser, 'the strict lock beside the lenient failures');
    for (const i of [0, 1]) expect((await via(i, 'lenient', 'alice', 'alice-password')).status).toBe(200);

    expect((await api('DELETE', settingsPath('strict'), adminToken)).status).toBe(204);
    expect(await api('GET', settingsPath('strict'), adminToken)).toEqual({ status: 200, body: null });
    // The environment's detectors apply again: six failures lock no one.
    await eventually(
      async () => {
        const user = fresh();
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++) statuses.push((await via(i, 'strict', user, 'wrong')).status);
        return statuses;
      },
      (statuses) => statuses.every((s) => s === 401),
      { what: "the environment's detectors back on the Gateways", timeoutMs: 30_000, intervalMs: 500 },
    );

    const audit = await api('GET', `/api/v1/audit?entityKind=brute_force_settings`, adminToken);
    const actions = audit.body.items.filter((e: { entity: { id: string } }) => e.entity.id === projects.strict).map((e: { action: string }) => e.action);
    expect(actions).toEqual(['brute_force_settings.delete', 'brute_force_settings.create']);
    const created = audit.body.items.find((e: { action: string; entity: { id: string } }) => e.action === 'brute_force_settings.create' && e.entity.id === projects.strict);
    expect(created).toMatchObject({ entity: { projectId: projects.strict } });
  }, 300_000);

  it('applies settings changed while Redis was down once it is back (empty: the Manager writes them again)', async () => {
    await cluster.redis.stop();
    expect(await api('PUT', settingsPath('strict'), adminToken, { perCredential: 3 })).toEqual({ status: 200, body: { perCredential: 3 } });
    await cluster.redis.start();
    await eventually(
      async () => {
        const user = fresh();
        await wrongThrice('strict', user, [0, 1, 0]);
        return (await lockedOnBoth('strict', user, 'a lock after three failures'))[0].status;
      },
      (status) => status === 429,
      { what: 'the settings on the Gateways after the Redis restart', timeoutMs: 120_000 },
    );
  }, 300_000);
});
