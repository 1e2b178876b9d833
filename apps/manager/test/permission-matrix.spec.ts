import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Every built-in role (and one custom role) against each action, at: its own project, another
 * project, its own team, and another team of its project. Allowed calls succeed; denied calls get
 * the exact 403 naming the permission and the scope.
 */
type Location = 'ownProject' | 'otherProject' | 'ownTeam' | 'otherTeam';
type Action = 'credential:read' | 'credential:write' | 'credential:rotate' | 'proxy:write' | 'team:write' | 'project:write';
const LOCATIONS: Location[] = ['ownProject', 'otherProject', 'ownTeam', 'otherTeam'];
const ACTIONS: Action[] = ['credential:read', 'credential:write', 'credential:rotate', 'proxy:write', 'team:write', 'project:write'];
const inOwnProject: Location[] = ['ownProject', 'ownTeam', 'otherTeam'];

const EXPECTED: Record<string, Partial<Record<Action, Location[]>>> = {
  'system-admin': Object.fromEntries(ACTIONS.map((a) => [a, LOCATIONS])),
  'project-owner': Object.fromEntries(ACTIONS.map((a) => [a, inOwnProject])),
  'project-editor': { 'credential:read': inOwnProject, 'credential:write': inOwnProject, 'credential:rotate': inOwnProject, 'proxy:write': inOwnProject },
  'project-viewer': { 'credential:read': inOwnProject },
  'team-member': { 'credential:read': ['ownTeam'], 'credential:write': ['ownTeam'], 'credential:rotate': ['ownTeam'], 'proxy:write': ['ownTeam'] },
  'key-rotator (custom)': { 'credential:read': inOwnProject, 'credential:rotate': inOwnProject },
};

describe('permission matrix', () => {
  let database: TestDatabase;
  let manager: InProcessManager;
  const tokens: Record<string, string> = {};
  const ids = { p1: '', p2: '', t1a: '', t1b: '', t2: '' };
  const credentialAt: Record<Location, string> = { ownProject: '', otherProject: '', ownTeam: '', otherTeam: '' };
  const where = (l: Location) =>
    ({
      ownProject: { projectId: ids.p1, teamId: null },
      otherProject: { projectId: ids.p2, teamId: null },
      ownTeam: { projectId: ids.p1, teamId: ids.t1a },
      otherTeam: { projectId: ids.p1, teamId: ids.t1b },
    })[l];
  const admin = (method: string, url: string, body?: unknown) =>
    manager.request(method, url, body).then((r) => {
      if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    });

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    manager = await startInProcessManager(database);
    const s = randomBytes(3).toString('hex');
    ids.p1 = (await admin('POST', '/api/v1/projects', { name: `p1-${s}` })).id;
    ids.p2 = (await admin('POST', '/api/v1/projects', { name: `p2-${s}` })).id;
    ids.t1a = (await admin('POST', `/api/v1/projects/${ids.p1}/teams`, { name: 'alpha' })).id;
    ids.t1b = (await admin('POST', `/api/v1/projects/${ids.p1}/teams`, { name: 'beta' })).id;
    for (const l of LOCATIONS) {
      const { projectId, teamId } = where(l);
      credentialAt[l] = (await admin('POST', `/api/v1/projects/${projectId}/credentials`, { username: `c-${l}`, teamId })).id;
    }
    const roles: { name: string; id: string }[] = await admin('GET', '/api/v1/roles');
    const rotator = await admin('POST', '/api/v1/roles', { name: 'key-rotator', permissions: ['credential:read', 'credential:rotate'] });
    const roleId = (name: string) => (name === 'key-rotator (custom)' ? rotator.id : roles.find((r) => r.name === name)!.id);
    for (const role of Object.keys(EXPECTED)) {
      if (role === 'system-admin') {
        tokens[role] = (await manager.request('POST', '/api/v1/auth/login', { username: 'admin', password: 'correct-horse-battery' }, { token: null })).body.token;
        continue;
      }
      const username = role.replace(/[^a-z]/g, '') + s;
      const user = await admin('POST', '/api/v1/users', { username, password: 'user-password-1' });
      const scope = role === 'team-member' ? { type: 'team', id: ids.t1a } : { type: 'project', id: ids.p1 };
      await admin('POST', '/api/v1/role-bindings', { roleId: roleId(role), subject: { type: 'user', id: user.id }, scope });
      tokens[role] = (await manager.request('POST', '/api/v1/auth/login', { username, password: 'user-password-1' }, { token: null })).body.token;
    }
  }, 60000);

  afterAll(async () => {
    await manager?.close();
    await database?.drop();
  });

  const perform = (role: string, action: Action, location: Location) => {
    const { projectId, teamId } = where(location);
    const credential = `/api/v1/projects/${projectId}/credentials/${credentialAt[location]}`;
    const as = { token: tokens[role] };
    switch (action) {
      case 'credential:read':
        return manager.request('GET', credential, undefined, as);
      case 'credential:write':
        return manager.request('PATCH', credential, { enabled: true }, as);
      case 'credential:rotate':
        return manager.request('POST', `${credential}/api-keys`, {}, as);
      case 'proxy:write':
        return manager.request(
          'POST',
          `/api/v1/projects/${projectId}/proxies`,
          { name: `px-${randomBytes(4).toString('hex')}`, basePath: `/px-${randomBytes(4).toString('hex')}`, upstreamUrl: 'http://127.0.0.1:9', teamId },
          as,
        );
      case 'team:write':
        return teamId
          ? manager.request('PATCH', `/api/v1/projects/${projectId}/teams/${teamId}`, { description: 'changed' }, as)
          : manager.request('POST', `/api/v1/projects/${projectId}/teams`, { name: `t-${randomBytes(4).toString('hex')}` }, as);
      case 'project:write':
        return manager.request('PATCH', `/api/v1/projects/${projectId}`, { description: 'changed' }, as);
    }
  };

  const cases = Object.keys(EXPECTED).flatMap((role) => ACTIONS.flatMap((action) => LOCATIONS.map((location) => [role, action, location] as const)));

  it.each(cases)('%s: %s at %s', async (role, action, location) => {
    const allowed = EXPECTED[role][action]?.includes(location) ?? false;
    const res = await perform(role, action, location);
    if (allowed) {
      expect([200, 201, 204]).toContain(res.status);
      return;
    }
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('permission_denied');
    expect(res.body.permission).toBe(action === 'credential:read' ? 'credential:read' : action);
    expect(['project', 'team']).toContain(res.body.scope.type);
    expect(res.body.detail).toContain(action);
  });

  it.each(Object.keys(EXPECTED))('GET /me/permissions tells %s exactly what the matrix lets it do, at each location', async (role) => {
    for (const location of LOCATIONS) {
      const { projectId, teamId } = where(location);
      const query = new URLSearchParams({ projectId, ...(teamId ? { teamId } : {}) });
      const res = await manager.request('GET', `/api/v1/me/permissions?${query.toString()}`, undefined, { token: tokens[role] });
      expect(res.status).toBe(200);
      expect(res.body.scope).toEqual(teamId ? { type: 'team', id: teamId } : { type: 'project', id: projectId });
      for (const action of ACTIONS)
        expect([location, action, res.body.permissions.includes(action)]).toEqual([location, action, EXPECTED[role][action]?.includes(location) ?? false]);
    }
  });

  it('GET /me/permissions refuses a malformed scope with the field named, and needs a session', async () => {
    for (const query of ['teamId=' + ids.t1a, 'projectId=not-a-uuid', 'projectId=' + ids.p1 + '&extra=1']) {
      const res = await manager.request('GET', `/api/v1/me/permissions?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
    expect((await manager.request('GET', '/api/v1/me/permissions', undefined, { token: null })).status).toBe(401);
    const system = await manager.request('GET', '/api/v1/me/permissions', undefined, { token: tokens['project-viewer'] });
    expect(system.body).toEqual({ scope: { type: 'system', id: null }, permissions: [] });
  });

  it("filters lists in SQL by the reader's scopes: a team member sees only its team's credentials", async () => {
    const member = await manager.request('GET', `/api/v1/projects/${ids.p1}/credentials`, undefined, { token: tokens['team-member'] });
    expect(member.status).toBe(200);
    expect(member.body.map((c: any) => c.username)).toEqual(['c-ownTeam']);
    const viewer = await manager.request('GET', `/api/v1/projects/${ids.p1}/credentials`, undefined, { token: tokens['project-viewer'] });
    expect(viewer.body.map((c: any) => c.username).sort()).toEqual(['c-otherTeam', 'c-ownProject', 'c-ownTeam']);
    const elsewhere = await manager.request('GET', `/api/v1/projects/${ids.p2}/credentials`, undefined, { token: tokens['team-member'] });
    expect(elsewhere.status).toBe(403);
    const projects = await manager.request('GET', '/api/v1/projects', undefined, { token: tokens['team-member'] });
    expect(projects.body.map((p: any) => p.id)).toEqual([ids.p1]);
  });

  it('refuses to let anyone grant what they do not hold (escalation)', async () => {
    const roles: { name: string; id: string }[] = (await manager.request('GET', '/api/v1/roles')).body;
    const systemAdmin = roles.find((r) => r.name === 'system-admin')!.id;
    const editorRole = roles.find((r) => r.name === 'project-editor')!.id;
    const me = (await manager.request('GET', '/api/v1/users')).body.find((u: any) => u.username === 'admin');
    const escalate = await manager.request(
      'POST',
      '/api/v1/role-bindings',
      { roleId: systemAdmin, subject: { type: 'user', id: me.id }, scope: { type: 'project', id: ids.p1 } },
      { token: tokens['project-owner'] },
    );
    expect(escalate.status).toBe(403);
    expect(escalate.body.code).toBe('escalation_denied');
    expect(escalate.body.missingPermissions).toContain('environment:write');
    const sideways = await manager.request(
      'POST',
      '/api/v1/role-bindings',
      { roleId: editorRole, subject: { type: 'user', id: me.id }, scope: { type: 'project', id: ids.p2 } },
      { token: tokens['project-owner'] },
    );
    expect(sideways.status).toBe(403);
    expect(sideways.body.code).toBe('permission_denied');
    const ok = await manager.request(
      'POST',
      '/api/v1/role-bindings',
      { roleId: editorRole, subject: { type: 'user', id: me.id }, scope: { type: 'team', id: ids.t1b } },
      { token: tokens['project-owner'] },
    );
    expect(ok.status).toBe(201);
  });
});
