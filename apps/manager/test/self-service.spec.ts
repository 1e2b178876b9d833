import { API_KEY_PREFIX_LENGTH } from '@idm/domain';
import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

describe('self-service credentials', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let projectId: string;
  const proxyWith = async (selfService: string) =>
    (
      await m.request('POST', `/api/v1/projects/${projectId}/proxies`, {
        name: `p-${randomBytes(3).toString('hex')}`,
        basePath: `/p-${randomBytes(3).toString('hex')}`,
        upstreamUrl: 'http://127.0.0.1:9',
        selfService,
      })
    ).body;
  const ask = (proxyId: string, username: string) =>
    m.request('POST', '/api/v1/self-service/credential-requests', { proxyId, username, contact: 'dev@example.test' }, { token: null });
  const poll = (id: string, secret: string) => m.request('GET', `/api/v1/self-service/credential-requests/${id}`, undefined, { token: secret });

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    // Fastify's injector connects from 127.0.0.1: that "load balancer" may name the client.
    m = await startInProcessManager(database, { MANAGER_TRUST_PROXY: '127.0.0.1' });
    projectId = (await m.request('POST', '/api/v1/projects', { name: 'apps' })).body.id;
  });

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  });

  it('hands out a key at once for an auto-approved proxy', async () => {
    const proxy = await proxyWith('auto');
    const res = await ask(proxy.id, 'mobile-app');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'approved', decidedBy: 'auto' });
    expect(res.body.apiKey).toMatch(/^idm_/);
    const credential = (await m.request('GET', `/api/v1/projects/${projectId}/credentials/${res.body.credentialId}`)).body;
    expect(credential.username).toBe('mobile-app');
    // The visible prefix is the key's first characters ("idm_" + 8 base64url ones, which may be "_").
    expect(credential.apiKeys[0].prefix).toBe(res.body.apiKey.slice(0, API_KEY_PREFIX_LENGTH));
  });

  it('waits for a project member on a manual proxy, then delivers the key exactly once', async () => {
    const proxy = await proxyWith('manual');
    const req = (await ask(proxy.id, 'partner-app')).body;
    expect(req.status).toBe('pending');
    expect(req.apiKey).toBeUndefined();
    expect((await poll(req.id, req.pollSecret)).body.status).toBe('pending');
    expect((await poll(req.id, 'idmr_wrong')).status).toBe(404);
    const approved = await m.request('POST', `/api/v1/projects/${projectId}/credential-requests/${req.id}/approve`);
    expect(approved.body).toMatchObject({ status: 'approved', decidedBy: 'admin' });
    const first = await poll(req.id, req.pollSecret);
    expect(first.body.apiKey).toMatch(/^idm_/);
    const second = await poll(req.id, req.pollSecret);
    expect(second.body.apiKey).toBeUndefined();
    expect((await m.request('POST', `/api/v1/projects/${projectId}/credential-requests/${req.id}/reject`)).status).toBe(409);
  });

  it('lets an application rotate its own key, and refuses strangers', async () => {
    const proxy = await proxyWith('auto');
    const { apiKey } = (await ask(proxy.id, 'rotating-app')).body;
    const rotated = await m.request('POST', '/api/v1/self-service/api-keys/rotate', { graceSeconds: 60 }, { token: null, headers: { 'x-api-key': apiKey } });
    expect(rotated.status).toBe(201);
    expect(rotated.body.key).not.toBe(apiKey);
    expect(Date.parse(rotated.body.replaced.expiresAt)).toBeGreaterThan(Date.now() + 50000);
    const again = await m.request('POST', '/api/v1/self-service/api-keys/rotate', { graceSeconds: 0 }, { token: null, headers: { 'x-api-key': rotated.body.key } });
    expect(again.status).toBe(201);
    const stale = await m.request('POST', '/api/v1/self-service/api-keys/rotate', {}, { token: null, headers: { 'x-api-key': rotated.body.key } });
    expect(stale.status).toBe(401);
    expect((await m.request('POST', '/api/v1/self-service/api-keys/rotate', {}, { token: null, headers: { 'x-api-key': 'idm_nope_nope' } })).body.code).toBe('invalid_api_key');
  });

  it('refuses proxies without self-service and bad requests', async () => {
    const proxy = await proxyWith('off');
    expect((await ask(proxy.id, 'nope')).body.code).toBe('self_service_unavailable');
    const bad = await m.request('POST', '/api/v1/self-service/credential-requests', { proxyId: 'x', username: 'a b' }, { token: null });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.path).sort()).toEqual(['proxyId', 'username']);
  });

  it('limits one address to 20 credential requests an hour and 20 failed polls or rotations per 15 minutes', async () => {
    const proxy = await proxyWith('manual');
    const from = (remoteAddress: string, username: string) =>
      m.request('POST', '/api/v1/self-service/credential-requests', { proxyId: proxy.id, username, contact: 'dev@example.test' }, { token: null, remoteAddress });
    for (let i = 0; i < 20; i++) expect((await from('203.0.113.5', `flood-${i}`)).status).toBe(201);
    const refused = await from('203.0.113.5', 'flood-20');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'too_many_requests', retryAfterSeconds: expect.any(Number) });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
    const listed = (await m.request('GET', `/api/v1/projects/${projectId}/credential-requests`)).body;
    expect(JSON.stringify(listed)).not.toContain('flood-20'); // refused before anything was written
    const mine = await from('203.0.113.6', 'elsewhere'); // another address is unaffected
    expect(mine.status).toBe(201);
    // Through the trusted proxy the client named in X-Forwarded-For is counted; from an untrusted
    // peer the header is ignored.
    const viaBalancer = (forwardedFor: string, remoteAddress: string, username: string) =>
      m.request(
        'POST',
        '/api/v1/self-service/credential-requests',
        { proxyId: proxy.id, username, contact: 'dev@example.test' },
        { token: null, remoteAddress, headers: { 'x-forwarded-for': forwardedFor } },
      );
    expect((await viaBalancer('203.0.113.5', '127.0.0.1', 'lb-1')).status).toBe(429);
    expect((await viaBalancer('203.0.113.9', '127.0.0.1', 'lb-2')).status).toBe(201);
    expect((await viaBalancer('203.0.113.9', '203.0.113.5', 'lb-3')).status).toBe(429);

    const pollFrom = (remoteAddress: string, secret: string) =>
      m.request('GET', `/api/v1/self-service/credential-requests/${mine.body.id}`, undefined, { token: secret, remoteAddress });
    for (let i = 0; i < 20; i++) expect((await pollFrom('203.0.113.7', `idmr_guess${i}`)).status).toBe(404);
    const probing = await pollFrom('203.0.113.7', mine.body.pollSecret); // even the right secret waits
    expect(probing.status).toBe(429);
    expect(probing.body.code).toBe('too_many_failures');
    expect((await pollFrom('203.0.113.6', mine.body.pollSecret)).body.status).toBe('pending'); // successes never count
  });
});
