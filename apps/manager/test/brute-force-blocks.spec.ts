import { bruteForceKeys } from '@idm/config-bus';
import { freePort } from '@idm/test-kit';
import Redis from 'ioredis';
import { seedBlocks } from './support/brute-force-blocks';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * The Manager's view of the Gateways' brute-force blocks: listed per environment as far as the
 * actor may read credentials, lifted (audited) by who may write them, and every bad request a
 * 4xx with a reason. Blocks are started through the Gateways' own store and script.
 */
describe('brute-force blocks API', () => {
  const P = '/api/v1';
  let database: TestDatabase;
  let m: InProcessManager;
  let env: { id: string; name: string };
  let projectA: string;
  let projectB: string;
  const tokens: Record<string, string> = {};

  const asUser = async (username: string, role: string, scope: { type: string; id: string | null }) => {
    const user = (await m.request('POST', `${P}/users`, { username, password: 'user-password-1' })).body;
    const roleId = (await m.request('GET', `${P}/roles`)).body.find((r: { name: string }) => r.name === role).id;
    expect((await m.request('POST', `${P}/role-bindings`, { roleId, subject: { type: 'user', id: user.id }, scope })).status).toBe(201);
    return (await m.request('POST', `${P}/auth/login`, { username, password: 'user-password-1' }, { token: null })).body.token as string;
  };
  const list = (token?: string) => m.request('GET', `${P}/environments/${env.id}/blocks`, undefined, token ? { token } : {});
  const lift = (id: string, token?: string) => m.request('DELETE', `${P}/environments/${env.id}/blocks/${id}`, undefined, token ? { token } : {});

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    env = (await m.request('POST', `${P}/environments`, { name: `bf-api-${Date.now().toString(36)}` })).body;
    projectA = (await m.request('POST', `${P}/projects`, { name: 'bf-a' })).body.id;
    projectB = (await m.request('POST', `${P}/projects`, { name: 'bf-b' })).body.id;
    tokens.viewerA = await asUser('viewer-a', 'project-viewer', { type: 'project', id: projectA });
    tokens.editorA = await asUser('editor-a', 'project-editor', { type: 'project', id: projectA });
    const noCredentials = (await m.request('POST', `${P}/roles`, { name: 'env-reader', permissions: ['environment:read'] })).body;
    const user = (await m.request('POST', `${P}/users`, { username: 'env-reader', password: 'user-password-1' })).body;
    await m.request('POST', `${P}/role-bindings`, { roleId: noCredentials.id, subject: { type: 'user', id: user.id }, scope: { type: 'system', id: null } });
    tokens.envReader = (await m.request('POST', `${P}/auth/login`, { username: 'env-reader', password: 'user-password-1' }, { token: null })).body.token;
  }, 120000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  });

  it('lists the blocks in force, times as ISO strings, without the Gateways lookup keys', async () => {
    await seedBlocks(env.name, { credential: { username: 'alice', projectId: projectA }, address: '198.51.100.1' }, { perAddress: 0, perCredentialAddress: 0 });
    await seedBlocks(env.name, { credential: { username: 'bob', projectId: projectB }, address: '198.51.100.2' }, { perAddress: 0, perCredential: 0 });
    await seedBlocks(env.name, { credential: null, address: '198.51.100.3' });
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(3);
    expect(res.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ detector: 'credential', credential: 'alice', projectId: projectA, address: null, source: 'proxy', failures: 1, strike: 1 }),
        expect.objectContaining({ detector: 'credential-address', credential: 'bob', projectId: projectB, address: '198.51.100.2' }),
        expect.objectContaining({ detector: 'address', credential: null, projectId: null, address: '198.51.100.3' }),
      ]),
    );
    for (const block of res.body) {
      expect(Object.keys(block).sort()).toEqual(['address', 'blockedAt', 'credential', 'detector', 'failures', 'id', 'projectId', 'source', 'strike', 'until']);
      expect(Date.parse(block.until)).toBeGreaterThan(Date.now());
    }
  });

  it("shows a project's readers only its credentials' blocks, and lets only its writers lift them", async () => {
    const seen = (await list(tokens.viewerA)).body;
    expect(seen.map((b: { credential: string }) => b.credential)).toEqual(['alice']);
    const alice = seen[0].id as string;
    expect(await lift(alice, tokens.viewerA)).toMatchObject({
      status: 403,
      body: { code: 'permission_denied', permission: 'credential:write', scope: { type: 'project', id: projectA } },
    });
    const all = (await list()).body as { id: string; credential: string | null }[];
    // Blocks the actor cannot read do not exist for it.
    for (const other of all.filter((b) => b.credential !== 'alice')) expect(await lift(other.id, tokens.editorA)).toMatchObject({ status: 404, body: { code: 'block_not_found' } });
    expect(await list(tokens.envReader)).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'credential:read' } });
    expect(await lift(alice, tokens.envReader)).toMatchObject({ status: 403, body: { permission: 'credential:read' } });
  });

  it('lifts a block in Redis, tells the Gateways and audits it with who lifted what', async () => {
    const alice = ((await list(tokens.editorA)).body as { id: string }[])[0];
    const sub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const messages: string[] = [];
    sub.on('message', (_c, msg) => messages.push(msg));
    await sub.subscribe(bruteForceKeys(env.name).events);
    expect((await lift(alice.id, tokens.editorA)).status).toBe(204);
    expect((await list()).body.map((b: { id: string }) => b.id)).not.toContain(alice.id);
    await new Promise((r) => setTimeout(r, 100));
    sub.disconnect();
    expect(messages.map((msg) => JSON.parse(msg))).toEqual([{ lift: { id: alice.id, key: expect.any(String) } }]);
    const audit = (await m.request('GET', `${P}/audit?entityKind=brute-force-block`)).body.items;
    expect(audit[0]).toMatchObject({ action: 'brute-force-block.lift', entity: { kind: 'brute-force-block', id: alice.id }, actor: { name: 'editor-a' } });
    expect(JSON.stringify(audit[0])).toContain('alice');
    expect(await lift(alice.id)).toMatchObject({ status: 404, body: { code: 'block_not_found' } });
  });

  it('answers bad input with a 4xx and a reason, never a 500', async () => {
    expect(await m.request('GET', `${P}/environments/not-a-uuid/blocks`)).toMatchObject({ status: 400, body: { code: 'invalid_id' } });
    expect(await m.request('GET', `${P}/environments/00000000-0000-4000-8000-000000000000/blocks`)).toMatchObject({ status: 404, body: { code: 'environment_not_found' } });
    for (const bad of ['a%20b', 'x'.repeat(65), '...', '%00', 'a.b', "'or'1'='1"]) {
      const res = await lift(bad);
      expect([bad, res.status, res.body.code]).toEqual([bad, 400, 'invalid_id']);
    }
    expect(await lift('AAAAAAAAAAAAAAAAAAAAAA')).toMatchObject({ status: 404, body: { code: 'block_not_found' } });
    expect(await m.request('GET', `${P}/environments/${env.id}/blocks`, undefined, { token: null })).toMatchObject({ status: 401 });
    expect(await m.request('DELETE', `${P}/environments/${env.id}/blocks/AAAA`, undefined, { token: 'forged' })).toMatchObject({ status: 401 });
  });

  it('answers 503 with a reason and Retry-After while Redis is unreachable', async () => {
    const offline = await startInProcessManager(database, { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    try {
      const res = await offline.request('GET', `${P}/environments/${env.id}/blocks`);
      expect(res).toMatchObject({ status: 503, body: { code: 'block_store_unavailable' } });
      expect(res.headers['retry-after']).toBe('5');
      expect((await offline.request('DELETE', `${P}/environments/${env.id}/blocks/AAAA`)).status).toBe(503);
      expect((await m.request('GET', `${P}/audit?entityKind=brute-force-block`)).body.items).toHaveLength(1);
    } finally {
      await offline.close({ keepPublishedConfig: true });
    }
  }, 60000);
});
