import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/** The live audit tail over Server-Sent Events, filtered by the reader's permissions. */
describe('audit stream (SSE)', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let baseUrl: string;

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    m = await startInProcessManager(database);
    await m.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(m.app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  });

  /**
   * Collects SSE `data:` payloads (those `keep` accepts) until `count` arrived or the time is up.
   * The audit channel is the installation's Redis: other suites' Managers on the machine's Redis
   * publish there too, so a reader who may see everything filters to this test's entities.
   */
  async function tail(token: string, count: number, during: () => Promise<void>, keep: (event: any) => boolean = () => true, timeoutMs = 15_000): Promise<any[]> {
    const abort = new AbortController();
    const res = await fetch(`${baseUrl}/api/v1/audit/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events: any[] = [];
    const reader = res.body!.getReader();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const reading = (async () => {
      let buffer = '';
      try {
        while (events.length < count) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += Buffer.from(value).toString();
          for (const match of buffer.matchAll(/^data: (.*)$/gm)) {
            const event = JSON.parse(match[1]);
            if (keep(event)) events.push(event);
          }
          buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
        }
      } catch {
        /* aborted: time is up */
      }
    })();
    await during();
    await reading;
    clearTimeout(timer);
    abort.abort();
    return events;
  }

  it('streams committed changes as they happen, only those the reader may see', async () => {
    const s = randomBytes(3).toString('hex');
    const mine = (await m.request('POST', '/api/v1/projects', { name: `mine-${s}` })).body;
    const theirs = (await m.request('POST', '/api/v1/projects', { name: `theirs-${s}` })).body;
    const roles = (await m.request('GET', '/api/v1/roles')).body;
    const owner = (await m.request('POST', '/api/v1/users', { username: `owner${s}`, password: 'owner-password' })).body;
    await m.request('POST', '/api/v1/role-bindings', {
      roleId: roles.find((r: any) => r.name === 'project-owner').id,
      subject: { type: 'user', id: owner.id },
      scope: { type: 'project', id: mine.id },
    });
    const ownerToken = (await m.request('POST', '/api/v1/auth/login', { username: `owner${s}`, password: 'owner-password' }, { token: null })).body.token;
    const adminToken = (await m.request('POST', '/api/v1/auth/login', { username: 'admin', password: 'correct-horse-battery' }, { token: null })).body.token;

    const change = async () => {
      await new Promise((r) => setTimeout(r, 100)); // let the subscriptions open
      await m.request('POST', `/api/v1/projects/${theirs.id}/credentials`, { username: 'hidden' });
      await m.request('POST', `/api/v1/projects/${mine.id}/credentials`, { username: 'visible', password: 'never-in-stream' });
    };
    const [ownerEvents, adminEvents] = await Promise.all([
      tail(ownerToken, 1, change),
      tail(
        adminToken,
        2,
        async () => undefined,
        (e) => [mine.id, theirs.id].includes(e.entity.projectId),
      ),
    ]);
    expect(ownerEvents.map((e) => [e.action, e.entity.projectId])).toEqual([['credential.create', mine.id]]);
    expect(adminEvents.map((e) => e.entity.projectId)).toEqual([theirs.id, mine.id]);
    expect(JSON.stringify(ownerEvents)).not.toContain('never-in-stream');
  });

  it('refuses the stream to someone without audit:read', async () => {
    const s = randomBytes(3).toString('hex');
    await m.request('POST', '/api/v1/users', { username: `nobody${s}`, password: 'nobody-password' });
    const token = (await m.request('POST', '/api/v1/auth/login', { username: `nobody${s}`, password: 'nobody-password' }, { token: null })).body.token;
    const res = await fetch(`${baseUrl}/api/v1/audit/stream`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect((await res.json()).permission).toBe('audit:read');
  });

  // Last: it closes the Manager. Without ending the tails, close() waits for the browser forever.
  it('ends the open tails when the Manager shuts down, so the shutdown does not wait for them', async () => {
    const adminToken = (await m.request('POST', '/api/v1/auth/login', { username: 'admin', password: 'correct-horse-battery' }, { token: null })).body.token;
    const res = await fetch(`${baseUrl}/api/v1/audit/stream`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })();
    const closing = m.close();
    m = undefined as never;
    await closing; // without ending the tail, this never resolves and the test times out
    await expect(ended).resolves.toBe('ended');
  }, 30_000);
});
