import type { ConfigSnapshot } from '@idm/config-bus';
import { hash } from 'argon2';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import { PasswordVerificationCache } from './password-verification.cache';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('basic-auth policy', () => {
  let snapshot: ConfigSnapshot;
  beforeAll(async () => {
    const passwordHash = await hash('correct horse', { type: 2 /* argon2id */ });
    const cred = (id: string, username: string, extra = {}) => snapshotCredential({ id, username, passwordHash, ...extra });
    snapshot = configSnapshot({
      proxies: [
        snapshotProxy({
          id: 'p1',
          name: 'demo',
          basePath: '/demo',
          upstreamUrl: 'http://127.0.0.1:1',
          methods: ['GET'],
          policies: [{ type: 'basic-auth', config: { realm: 'demo realm' } }],
        }),
      ],
      credentials: [
        cred('c1', 'alice'),
        cred('c2', 'bob', { enabled: false }),
        cred('c3', 'carol', { expiresAt: '2000-01-01T00:00:00Z' }),
        cred('c4', 'dave', { passwordHash: null }),
        { ...cred('c5', 'erin'), projectId: 'proj-b' },
      ],
    });
  });

  function run(authorization: string | undefined, cache = new PasswordVerificationCache()) {
    const proxy = compileEnvironment(snapshot, { passwordCache: cache }).route('/demo/x')!;
    const ctx = createRequestContext({ method: 'GET', path: '/demo/x', headers: authorization === undefined ? {} : { authorization }, query: '', clientIp: '::1' });
    return { outcome: proxy.runPolicies(ctx), ctx };
  }

  it('accepts the right password, strips Authorization and then answers from the cache synchronously', async () => {
    const cache = new PasswordVerificationCache();
    const first = run(basic('alice', 'correct horse'), cache);
    expect(first.outcome).toBeInstanceOf(Promise);
    expect(await first.outcome).toBeUndefined();
    expect(first.ctx.identity).toEqual({ credentialId: 'c1', username: 'alice', projectId: 'proj-a' });
    expect(first.ctx.strippedHeaders).toEqual(['authorization']);
    const second = run(basic('alice', 'correct horse'), cache);
    expect(second.outcome).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('answers 401 with a Basic challenge carrying realm and charset', async () => {
    expect(await run(undefined).outcome).toEqual({
      status: 401,
      code: 'missing_credentials',
      message: expect.any(String),
      headers: { 'www-authenticate': 'Basic realm="demo realm", charset="UTF-8"' },
    });
    expect(await run('Bearer abc').outcome).toMatchObject({ code: 'missing_credentials' });
  });

  it.each([
    ['no credentials after the scheme', 'Basic'],
    ['bad base64', 'Basic !!!notbase64'],
    ['base64 without padding', 'Basic YWxpY2U6eA'],
    ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`],
    ['an empty username', basic('', 'x')],
  ])('rejects %s as malformed_credentials', async (_, header) => {
    expect(await run(header).outcome).toMatchObject({ status: 401, code: 'malformed_credentials' });
  });

  it.each([
    ['a wrong password', basic('alice', 'wrong'), 'invalid_credentials'],
    ['an unknown user', basic('mallory', 'correct horse'), 'invalid_credentials'],
    ['a credential without password', basic('dave', 'correct horse'), 'invalid_credentials'],
    ['a user of another project', basic('erin', 'correct horse'), 'invalid_credentials'],
    ['a disabled credential', basic('bob', 'correct horse'), 'credential_disabled'],
    ['an expired credential', basic('carol', 'correct horse'), 'credential_expired'],
  ])('rejects %s', async (_, header, code) => {
    const { outcome, ctx } = run(header);
    expect(await outcome).toMatchObject({ status: 401, code });
    expect(ctx.identity).toBeNull();
  });

  it('does not reveal the account state to a wrong password', async () => {
    expect(await run(basic('bob', 'wrong')).outcome).toMatchObject({ code: 'invalid_credentials' });
  });
});
