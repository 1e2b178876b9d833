import { randomUUID } from 'node:crypto';
import { PasswordWorkLimiter } from '../src/auth/password-work-limiter';
import { startInProcessManager, ADMIN, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Admin API answers over real HTTP (undici): input PostgreSQL cannot store is a 400, anonymous
 * requests are a 401 before their body is parsed, and a missing project is a 404 before any
 * expensive work.
 */
describe.each(['postgres', 'pglite'] as const)('admin API correctness on %s', (kind) => {
  let database: TestDatabase;
  let m: InProcessManager;
  let baseUrl: string;
  let token: string;
  let projectId: string;
  const logs: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    // One argon2 slot and no queue: a test that holds the slot sees which requests would hash.
    m = await startInProcessManager(
      database,
      { LOG_LEVEL: 'info', MANAGER_PASSWORD_HASH_CONCURRENCY: '1', MANAGER_PASSWORD_HASH_QUEUE: '0' },
      { logDestination: { write: (line: string) => void logs.push(line) } },
    );
    await m.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(m.app.getHttpServer().address() as { port: number }).port}`;
    token = (await call('POST', '/api/v1/auth/login', { json: ADMIN, token: null })).body.token;
    projectId = (await call('POST', '/api/v1/projects', { json: { name: `correctness-${randomUUID().slice(0, 8)}` } })).body.id;
  }, 120000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  });

  /** One request; `json` is serialized, `raw` sent as is (both as application/json). */
  async function call(method: string, path: string, o: { json?: unknown; raw?: string; token?: string | null } = {}) {
    const body = o.raw ?? (o.json === undefined ? undefined : JSON.stringify(o.json));
    const auth = o.token === null ? undefined : (o.token ?? token);
    const res = await fetch(baseUrl + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
  }

  describe('NUL characters', () => {
    it('refuses them in JSON strings and keys, query strings and path ids with 400, never 500', async () => {
      const answers = [
        await call('POST', '/api/v1/projects', { json: { name: 'nul\u0000name' } }),
        await call('POST', `/api/v1/projects/${projectId}/credentials`, { raw: '{"username":"nul-key","metadata":{"k\\u0000":"v"}}' }),
        await call('POST', '/api/v1/auth/login', { json: { username: 'adm\u0000in', password: 'whatever-password' }, token: null }),
        await call('GET', `/api/v1/projects/${projectId}/credentials?after=a%00b`),
        await call('GET', '/api/v1/audit?entityKind=%00'),
      ];
      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(answer.headers.get('content-type')).toContain('application/problem+json');
        expect(answer.body.code).toBe('validation_failed');
        expect(answer.body.errors[0].message).toContain('NUL');
      }
      expect(answers.map((a) => a.body.errors[0].path)).toEqual(['name', 'metadata.k\\u0000', 'username', 'after', 'entityKind']);
      const badId = await call('GET', '/api/v1/projects/%00');
      expect(badId.status).toBe(400);
      expect(badId.body.code).toBe('invalid_id');
      expect(logs.join('')).not.toMatch(/Failed query|unhandled error/);
    });
  });

  describe('authentication before body parsing', () => {
    it('answers anonymous requests with 401 whatever their body', async () => {
      const emptyJson = await call('DELETE', `/api/v1/projects/${randomUUID()}`, { raw: '', token: null });
      expect(emptyJson.status).toBe(401);
      expect(emptyJson.body.code).toBe('unauthenticated');
      expect(emptyJson.headers.get('content-type')).toContain('application/problem+json');
      expect((await call('POST', '/api/v1/projects', { raw: '{not json', token: null })).body.code).toBe('unauthenticated');
      expect((await call('POST', '/api/v1/projects', { raw: '{"name":"x"}', token: 'idms_forged' })).status).toBe(401);
    });

    it('still parses bodies of public routes and of authenticated requests, and 404s unknown routes', async () => {
      expect((await call('POST', '/api/v1/auth/login', { raw: '{not json', token: null })).body.code).toBe('malformed_json');
      expect((await call('POST', '/api/v1/projects', { raw: '{not json' })).body.code).toBe('malformed_json');
      expect((await call('GET', '/health/live', { token: null })).status).toBe(200);
      expect((await call('GET', '/api/v1/no-such-route', { token: null })).body.code).toBe('route_not_found');
    });
  });

  describe('existence before expensive work', () => {
    /** Runs `during` while the Manager's only argon2 slot is taken: anything that hashes gets 503. */
    async function withArgon2Busy<T>(during: () => Promise<T>): Promise<T> {
      let release!: () => void;
      const held = m.app.get(PasswordWorkLimiter).run(() => new Promise<void>((r) => (release = r)));
      try {
        return await during();
      } finally {
        release();
        await held;
      }
    }

    it('answers a password write for a missing project, credential or user with 404 before hashing the password', async () => {
      const [credential, user] = await withArgon2Busy(async () => [
        await call('POST', `/api/v1/projects/${randomUUID()}/credentials`, { json: { username: 'ghost', password: 'a-long-enough-password' } }),
        await call('PATCH', `/api/v1/projects/${projectId}/credentials/${randomUUID()}`, { json: { password: 'a-long-enough-password' } }),
        await call('PATCH', `/api/v1/users/${randomUUID()}`, { json: { password: 'a-long-enough-password' } }),
      ]).then(async ([created, ...rest]) => {
        expect(created.status).toBe(404);
        expect(created.body.code).toBe('project_not_found');
        return rest;
      });
      expect([credential.status, credential.body.code]).toEqual([404, 'credential_not_found']);
      expect([user.status, user.body.code]).toEqual([404, 'user_not_found']);
      // The same writes that do hash wait for the slot, and are refused while it is taken.
      const busy = await withArgon2Busy(() => call('POST', `/api/v1/projects/${projectId}/credentials`, { json: { username: 'real', password: 'a-long-enough-password' } }));
      expect([busy.status, busy.body.code, busy.headers.get('retry-after')]).toEqual([503, 'password_checks_busy', '1']);
    });

    it('answers a signing key for a missing environment with 404 before generating the key', async () => {
      const started = Date.now();
      for (let i = 0; i < 5; i++) {
        const answer = await call('POST', `/api/v1/environments/${randomUUID()}/signing-keys`, { json: { algorithm: 'RS256' } });
        expect([answer.status, answer.body.code]).toEqual([404, 'environment_not_found']);
      }
      expect(Date.now() - started).toBeLessThan(600); // five RSA-2048 key pairs take longer than this
    });

    it('answers credential requests of a missing project with 404 project_not_found, like its siblings', async () => {
      const missing = randomUUID();
      for (const [method, path] of [
        ['GET', `/api/v1/projects/${missing}/credential-requests`],
        ['POST', `/api/v1/projects/${missing}/credential-requests/${randomUUID()}/approve`],
        ['POST', `/api/v1/projects/${missing}/credential-requests/${randomUUID()}/reject`],
        ['GET', `/api/v1/projects/${missing}/credentials`],
      ]) {
        const answer = await call(method, path);
        expect([method, path, answer.status, answer.body.code]).toEqual([method, path, 404, 'project_not_found']);
      }
      expect((await call('GET', `/api/v1/projects/${projectId}/credential-requests`)).body).toEqual([]);
    });
  });

  describe('audit stream', () => {
    it('sends event-stream headers without the non-header Expire', async () => {
      const abort = new AbortController();
      const res = await fetch(`${baseUrl}/api/v1/audit/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(res.headers.get('cache-control')).toContain('no-store');
      expect(res.headers.get('expire')).toBeNull();
      expect(res.headers.get('x-request-id')).toBeTruthy();
      const reader = res.body!.getReader();
      const first = reader.read();
      await call('POST', '/api/v1/projects', { json: { name: `streamed-${randomUUID().slice(0, 8)}` } });
      const { value } = await first;
      expect(Buffer.from(value as Uint8Array).toString()).toMatch(/^data: \{.*"action":"project.create"/);
      abort.abort();
    });
  });

  describe('request ids', () => {
    it("keeps the caller's X-Request-Id in the Gateway's shape (`@` included) and replaces an unsafe one", async () => {
      const kept = await m.request('GET', '/health/live', undefined, { token: null, headers: { 'x-request-id': 'span:42@edge-1.example' } });
      expect(kept.headers['x-request-id']).toBe('span:42@edge-1.example');
      const replaced = await m.request('GET', '/health/live', undefined, { token: null, headers: { 'x-request-id': 'not ok <script>' } });
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });
});
