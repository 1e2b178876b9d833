import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * The Gateway routes by the longest base path, so a proxy nested in another's path takes part of
 * its traffic (and its callers' API keys and tokens). Across projects that is refused, in both
 * directions, on every write path (create, update, APIops) and under concurrent creates; inside
 * a project it takes the right to change the other proxy.
 */
describe('base paths do not nest across projects', () => {
  let database: TestDatabase;
  let manager: InProcessManager;
  const s = randomBytes(3).toString('hex');
  const ids = { a: '', b: '', teamA1: '', teamA2: '' };
  const tokens = { editorB: '', memberA2: '' };
  const admin = async (method: string, url: string, body?: unknown) => {
    const r = await manager.request(method, url, body);
    if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const proxy = (name: string, basePath: string, extra: Record<string, unknown> = {}) => ({
    name,
    basePath,
    upstreamUrl: 'http://127.0.0.1:9',
    environments: [`env-${s}`],
    ...extra,
  });

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    manager = await startInProcessManager(database);
    await admin('POST', '/api/v1/environments', { name: `env-${s}` });
    ids.a = (await admin('POST', '/api/v1/projects', { name: `a-${s}` })).id;
    ids.b = (await admin('POST', '/api/v1/projects', { name: `b-${s}` })).id;
    ids.teamA1 = (await admin('POST', `/api/v1/projects/${ids.a}/teams`, { name: 'one' })).id;
    ids.teamA2 = (await admin('POST', `/api/v1/projects/${ids.a}/teams`, { name: 'two' })).id;
    const roles: { id: string; name: string }[] = await admin('GET', '/api/v1/roles');
    const role = (name: string) => roles.find((r) => r.name === name)!.id;
    for (const [key, roleName, scope] of [
      ['editorB', 'project-editor', { type: 'project', id: ids.b }],
      ['memberA2', 'team-member', { type: 'team', id: ids.teamA2 }],
    ] as const) {
      const username = `${key.toLowerCase()}${s}`;
      const user = await admin('POST', '/api/v1/users', { username, password: 'user-password-1' });
      await admin('POST', '/api/v1/role-bindings', { roleId: role(roleName), subject: { type: 'user', id: user.id }, scope });
      tokens[key] = (await manager.request('POST', '/api/v1/auth/login', { username, password: 'user-password-1' }, { token: null })).body.token;
    }
    await admin('POST', `/api/v1/projects/${ids.a}/proxies`, proxy('demo', `/demo-${s}`, { teamId: ids.teamA1 }));
    await admin('POST', `/api/v1/projects/${ids.a}/proxies`, proxy('inner', `/outer-${s}/inner`, { teamId: ids.teamA1 }));
  }, 60000);

  afterAll(async () => {
    await manager?.close();
    await database?.drop();
  });

  it("refuses another project's proxy inside a base path (the hijack) and around one, on create and on update", async () => {
    const inside = await manager.request('POST', `/api/v1/projects/${ids.b}/proxies`, proxy('hello', `/demo-${s}/hello`), { token: tokens.editorB });
    expect(inside.status).toBe(409);
    expect(inside.body).toMatchObject({
      code: 'base_path_nested',
      detail: `base path '/demo-${s}/hello' would nest inside '/demo-${s}', which belongs to another project`,
      errors: [{ path: 'basePath' }],
    });
    const around = await manager.request('POST', `/api/v1/projects/${ids.b}/proxies`, proxy('outer', `/outer-${s}`), { token: tokens.editorB });
    expect(around.status).toBe(409);
    expect(around.body.detail).toContain(`around '/outer-${s}/inner'`);

    // Segment-aware: "/demo-s2" shares characters with "/demo-s", not a path segment.
    const sibling = await manager.request('POST', `/api/v1/projects/${ids.b}/proxies`, proxy('sibling', `/demo-${s}x`), { token: tokens.editorB });
    expect(sibling.status).toBe(201);
    const moved = await manager.request('PATCH', `/api/v1/projects/${ids.b}/proxies/${sibling.body.id}`, { basePath: `/demo-${s}/moved` }, { token: tokens.editorB });
    expect(moved).toMatchObject({ status: 409, body: { code: 'base_path_nested' } });
    const undeployed = await manager.request('POST', `/api/v1/projects/${ids.b}/proxies`, proxy('later', `/demo-${s}/later`, { environments: [] }), { token: tokens.editorB });
    expect(undeployed.status).toBe(409); // a path reserved now cannot become a hijack at deploy time
    expect((await admin('GET', `/api/v1/projects/${ids.b}/proxies`)).map((p: any) => p.basePath)).toEqual([`/demo-${s}x`]);
  });

  it('inside a project, nesting needs the right to change the other proxy', async () => {
    const asMember = { token: tokens.memberA2 };
    const denied = await manager.request('POST', `/api/v1/projects/${ids.a}/proxies`, proxy('t2', `/demo-${s}/t2`, { teamId: ids.teamA2, environments: [] }), asMember);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'permission_denied', permission: 'proxy:write', scope: { type: 'team', id: ids.teamA1 } });
    const ownPath = await manager.request('POST', `/api/v1/projects/${ids.a}/proxies`, proxy('t2', `/t2-${s}`, { teamId: ids.teamA2, environments: [] }), asMember);
    expect(ownPath.status).toBe(201);
    // The project's admin may change the "demo" proxy, so may nest inside it.
    expect((await manager.request('POST', `/api/v1/projects/${ids.a}/proxies`, proxy('admin-area', `/demo-${s}/admin`, { teamId: ids.teamA2 }))).status).toBe(201);
  });

  it('covers APIops apply, rolling back the whole bundle', async () => {
    const bundle = {
      apiVersion: 'idm/v1',
      kind: 'ProjectBundle',
      project: { name: `ops-${s}` },
      teams: [],
      roles: [],
      credentials: [],
      proxies: [{ name: 'sneaky', basePath: `/demo-${s}/ops`, upstreamUrl: 'http://127.0.0.1:9', methods: ['GET'], policies: [], environments: [`env-${s}`] }],
    };
    const res = await manager.request('POST', '/api/v1/apiops/apply', { bundle });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'base_path_nested', detail: expect.stringContaining("api_proxy 'sneaky'") });
    expect((await admin('GET', '/api/v1/projects')).some((p: any) => p.name === `ops-${s}`)).toBe(false);
  });

  it('lets exactly one of two concurrent creates through, whichever direction', async () => {
    for (let round = 0; round < 6; round++) {
      const base = `/race-${s}-${round}`;
      const [outer, inner] = round % 2 ? [base, `${base}/x`] : [`${base}/x/y`, base];
      const results = await Promise.all([
        manager.request('POST', `/api/v1/projects/${ids.a}/proxies`, proxy(`race-${round}`, outer)),
        manager.request('POST', `/api/v1/projects/${ids.b}/proxies`, proxy(`race-${round}`, inner), { token: tokens.editorB }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    }
  });

  it('reports pairs written before the rule at boot, for an operator to move one', async () => {
    const db = new Client({ connectionString: database.url });
    await db.connect();
    await db.query('UPDATE api_proxies SET base_path = $1 WHERE base_path = $2', [`/demo-${s}/legacy`, `/demo-${s}x`]); // as an older Manager allowed
    await db.end();
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) });
    const rebooted = await startInProcessManager(database, { LOG_LEVEL: 'warn' }, { logDestination: sink });
    await rebooted.close();
    expect(lines.join('')).toContain(`base path '/demo-${s}/legacy' nests inside '/demo-${s}' of another project`);
  });
});
