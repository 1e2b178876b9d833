import { randomBytes } from 'node:crypto';
import type { ConfigSnapshot } from '@idm/config-bus';
import { OpaqueTokenStore } from '@idm/tokens';
import Redis from 'ioredis';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

/** Against a real Redis (the token store every Gateway shares). */
describe('oauth2-auth policy', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const keyPrefix = `idm:test:${randomBytes(6).toString('hex')}`;
  const store = new OpaqueTokenStore(redis, { keyPrefix });
  afterAll(async () => {
    // The shared Redis keeps nothing of this spec: its tokens, refresh tokens and families.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  });

  const snapshot = (enabled = true): ConfigSnapshot =>
    configSnapshot({
      proxies: [
        snapshotProxy({
          id: 'p1',
          name: 'ledger',
          basePath: '/ledger',
          upstreamUrl: 'http://127.0.0.1:1',
          methods: ['GET', 'POST'],
          policies: [{ type: 'oauth2-auth', config: { methods: { POST: { scopes: ['write'] } } } }],
        }),
      ],
      credentials: [snapshotCredential({ id: 'c1', username: 'app', enabled, roles: ['service'] })],
    });
  const run = async (token: string | undefined, { method = 'GET', enabled = true } = {}) => {
    const proxy = compileEnvironment(snapshot(enabled), { opaqueTokens: store }).route('/ledger')!;
    const ctx = createRequestContext({ method, path: '/ledger', headers: token ? { authorization: `Bearer ${token}` } : {}, query: '', clientIp: '127.0.0.1' });
    return { outcome: await proxy.runPolicies(ctx), ctx };
  };
  const issue = (grant: Partial<Parameters<OpaqueTokenStore['issue']>[0]> = {}) =>
    store.issue({ clientId: 'c1', credentialId: 'c1', subject: 'c1', scope: 'read', environment: 'test', ...grant }, { accessTokenSeconds: 60, refreshTokenSeconds: 120 });

  it('accepts a live access token and forwards identity and roles', async () => {
    const { accessToken } = await issue();
    const { outcome, ctx } = await run(accessToken);
    expect(outcome).toBeUndefined();
    expect(ctx.identity).toEqual({ credentialId: 'c1', username: 'app', projectId: 'proj-a' });
    expect(ctx.upstreamHeaders['x-authenticated-userroles']).toBe('service');
  });

  it.each([
    [
      'a revoked token',
      async () => {
        const t = (await issue()).accessToken;
        await store.revoke(t);
        return t;
      },
    ],
    ['a refresh token', async () => (await issue()).refreshToken!],
    ['a token of another environment', async () => (await issue({ environment: 'prod' })).accessToken],
    ['a token bound to another proxy', async () => (await issue({ proxyId: 'p2' })).accessToken],
    ['a token of an unknown credential', async () => (await issue({ credentialId: 'gone' })).accessToken],
    ['something that is not our token', async () => 'eyJhbGciOi.x.y'],
  ])('refuses %s with 401 invalid_token', async (_, token) => {
    expect((await run(await token())).outcome).toMatchObject({
      status: 401,
      code: 'invalid_token',
      headers: { 'www-authenticate': 'Bearer realm="/ledger", error="invalid_token"' },
    });
  });

  it('refuses tokens of a disabled credential and checks scopes per method', async () => {
    const { accessToken } = await issue();
    expect((await run(accessToken, { enabled: false })).outcome).toMatchObject({ code: 'invalid_token' });
    expect((await run(accessToken, { method: 'POST' })).outcome).toMatchObject({ status: 403, code: 'insufficient_scope' });
  });

  it('answers 503 (not 401) when the store cannot answer', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const proxy = compileEnvironment(snapshot(), { opaqueTokens: new OpaqueTokenStore(down) }).route('/ledger')!;
    const ctx = createRequestContext({ method: 'GET', path: '/ledger', headers: { authorization: `Bearer idm_at_${'a'.repeat(43)}` }, query: '', clientIp: '127.0.0.1' });
    expect(await proxy.runPolicies(ctx)).toMatchObject({ status: 503, code: 'token_store_unavailable' });
    down.disconnect();
  });

  it('makes the proxy unavailable on a gateway without a token store', () => {
    expect(compileEnvironment(snapshot()).route('/ledger')!.unavailable).toMatchObject({ status: 503, code: 'proxy_unavailable' });
  });
});
