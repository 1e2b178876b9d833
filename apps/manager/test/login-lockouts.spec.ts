import { startInProcessManager, ADMIN, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Login lockouts at the Manager: one address spraying wrong passwords must not lock the real
 * admin out for a day (operators behind one NAT share an address), and a system admin can lift
 * a lockout at once, audited.
 */
describe('operator login lockouts', () => {
  let database: TestDatabase;
  let manager: InProcessManager;
  const login = (username: string, password: string, remoteAddress: string) =>
    manager.request('POST', '/api/v1/auth/login', { username, password }, { token: null, remoteAddress });
  const unlock = (query: string, token?: string) => manager.request('DELETE', `/api/v1/auth/lockouts${query}`, undefined, token === undefined ? {} : { token });

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    manager = await startInProcessManager(database);
  });

  afterAll(async () => {
    await manager?.close();
    await database?.drop();
  });

  it('blocks a spraying address for 15 minutes, not a day, and a system admin lifts it', async () => {
    const shared = '203.0.113.10';
    for (let i = 0; i < 100; i++) expect((await login(`sprayed-${i % 10}`, 'wrong-password', shared)).status).toBe(401);
    const refused = await login(ADMIN.username, ADMIN.password, shared);
    expect(refused).toMatchObject({ status: 429, body: { code: 'too_many_login_attempts' } });
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(15 * 60);

    const unlocked = await unlock(`?address=${shared}`);
    expect(unlocked.status).toBe(204);
    expect((await login(ADMIN.username, ADMIN.password, shared)).status).toBe(200);
    const audit = await manager.request('GET', '/api/v1/audit?entityKind=login-lockout');
    expect(audit.body.items[0]).toMatchObject({ action: 'login-lockout.unlock', entity: { kind: 'login-lockout' }, actor: { name: ADMIN.username } });
    expect(JSON.stringify(audit.body.items[0])).toContain(shared);
  }, 120000);

  it("lifts one username's lockout at an address", async () => {
    const office = '203.0.113.20';
    for (let i = 0; i < 10; i++) expect((await login(ADMIN.username, `guess-${i}`, office)).status).toBe(401);
    expect((await login(ADMIN.username, ADMIN.password, office)).status).toBe(429);
    expect((await unlock(`?address=${office}&username=${ADMIN.username}`)).status).toBe(204);
    expect((await login(ADMIN.username, ADMIN.password, office)).status).toBe(200);
  }, 60000);

  it('lets only a system admin unlock, and answers bad input with a reason', async () => {
    expect((await manager.request('POST', '/api/v1/users', { username: 'viewer', password: 'viewer-password-1' })).status).toBe(201);
    const viewer = (await login('viewer', 'viewer-password-1', '203.0.113.30')).body.token as string;
    expect(await unlock('?address=203.0.113.30', viewer)).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'user:write', scope: { type: 'system' } } });
    expect(await unlock('?address=203.0.113.30', '')).toMatchObject({ status: 401 });
    expect(await unlock('')).toMatchObject({ status: 400, body: { code: expect.any(String) } });
    const notAnAddress = await unlock('?address=somewhere');
    expect(notAnAddress.status).toBe(400);
    expect(JSON.stringify(notAnAddress.body)).toContain('IPv4 or IPv6');
  });
});
