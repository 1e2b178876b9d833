import { startInProcessManager, ADMIN, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Operator login under concurrency, over real sockets: the failure limit holds however many
 * guesses arrive at once, and a burst of logins cannot starve the rest of the API (argon2 work
 * is bounded; beyond the queue it is refused with 503 at once). X-Forwarded-For names the client
 * (MANAGER_TRUST_PROXY=127.0.0.1) so each test has addresses of its own.
 */
describe('operator login under concurrency', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let baseUrl: string;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database, { MANAGER_TRUST_PROXY: '127.0.0.1', MANAGER_PASSWORD_HASH_CONCURRENCY: '1', MANAGER_PASSWORD_HASH_QUEUE: '16' });
    await m.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(m.app.getHttpServer().address() as { port: number }).port}`;
  }, 60000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  });

  const login = (client: string, password: string) =>
    fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
      body: JSON.stringify({ username: ADMIN.username, password }),
    }).then(async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }));

  it('counts concurrent wrong passwords before checking them: 40 at once get 10 x 401 and 30 x 429', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => login('203.0.113.40', `wrong-${i}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
    expect(results.find((r) => r.status === 429)!.body.code).toBe('too_many_login_attempts');
    expect((await login('203.0.113.40', ADMIN.password)).status).toBe(429); // the pair waits, even with the right password
    expect((await login('203.0.113.41', ADMIN.password)).status).toBe(200);
  }, 60000);

  it('answers a burst of 200 logins with 503 beyond the argon2 queue while health stays responsive', async () => {
    let bursting = true;
    const healthLatencies: number[] = [];
    const probing = (async () => {
      while (bursting) {
        const started = Date.now();
        const res = await fetch(`${baseUrl}/health/live`);
        expect(res.status).toBe(200);
        healthLatencies.push(Date.now() - started);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => login(`198.18.${i >> 8}.${i & 255}`, `wrong-${i}`)));
    bursting = false;
    await probing;

    const busy = results.filter((r) => r.status === 503);
    expect(results.every((r) => r.status === 401 || r.status === 503)).toBe(true);
    expect(results.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(17); // 1 running + 16 queued
    expect(busy.length).toBeGreaterThan(100);
    expect(busy[0].body).toMatchObject({ code: 'password_checks_busy', retryAfterSeconds: 1 });
    expect(busy[0].retryAfter).toBe('1');
    expect(healthLatencies.length).toBeGreaterThan(0);
    expect(Math.max(...healthLatencies)).toBeLessThan(1000);
    // A refused check was no failed guess: the operator logs in from one of the refused addresses.
    const refusedClient = `198.18.${results.indexOf(busy[0]) >> 8}.${results.indexOf(busy[0]) & 255}`;
    expect((await login(refusedClient, ADMIN.password)).status).toBe(200);
  }, 120000);
});
