import type { ConfigSnapshot } from '@idm/config-bus';
import { hash } from 'argon2';
import { PasswordVerificationCache } from '../basic-auth/password-verification.cache';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

const b64 = (v: string) => Buffer.from(v).toString('base64');

describe('base64-auth policy', () => {
  let passwordHash: string;
  const cache = new PasswordVerificationCache();
  beforeAll(async () => {
    passwordHash = await hash('correct horse', { type: 2 });
  });
  const snapshot = (config: Record<string, unknown>): ConfigSnapshot => {
    const cred = (id: string, username: string, extra = {}) => snapshotCredential({ id, username, passwordHash, ...extra });
    return configSnapshot({
      proxies: [snapshotProxy({ id: 'p1', name: 'demo', basePath: '/demo', upstreamUrl: 'http://127.0.0.1:1', methods: ['GET'], policies: [{ type: 'base64-auth', config }] })],
      credentials: [cred('c1', 'alice'), cred('c2', 'bob', { enabled: false })],
    });
  };
  const run = async (config: Record<string, unknown>, headers: Record<string, string>, query = '') => {
    const ctx = createRequestContext({ method: 'GET', path: '/demo/x', headers, query, clientIp: '::1' });
    const outcome = await compileEnvironment(snapshot(config), { passwordCache: cache }).route('/demo/x')!.runPolicies(ctx);
    return { outcome, ctx };
  };

  it('accepts base64 username:password from Authorization, with or without "Basic "', async () => {
    for (const value of [b64('alice:correct horse'), `Basic ${b64('alice:correct horse')}`]) {
      const { outcome, ctx } = await run({}, { authorization: value });
      expect(outcome).toBeUndefined();
      expect(ctx.identity).toEqual({ credentialId: 'c1', username: 'alice', projectId: 'proj-a' });
      expect(ctx.strippedHeaders).toEqual(['authorization']);
    }
  });

  it('reads a configured header or query parameter and strips it', async () => {
    expect((await run({ header: 'X-Creds' }, { 'x-creds': b64('alice:correct horse') })).outcome).toBeUndefined();
    const { outcome, ctx } = await run({ queryParam: 'auth' }, {}, `a=1&auth=${encodeURIComponent(b64('alice:correct horse'))}`);
    expect(outcome).toBeUndefined();
    expect(ctx.query).toBe('a=1');
  });

  it('checks only the username when the password check is off', async () => {
    expect((await run({ passwordCheck: false }, { authorization: b64('alice') })).outcome).toBeUndefined();
    expect((await run({ passwordCheck: false }, { authorization: b64('mallory') })).outcome).toMatchObject({ status: 401, code: 'invalid_credentials' });
  });

  it.each([
    ['nothing', {}, 'missing_credentials'],
    ['bad base64', { authorization: 'Basic !!!' }, 'malformed_credentials'],
    ['no colon', { authorization: b64('alice') }, 'malformed_credentials'],
    ['a huge value', { authorization: 'A'.repeat(8000) }, 'malformed_credentials'],
    ['binary garbage', { authorization: Buffer.from([0xff, 0xfe, 0x3a, 0x01]).toString('base64') }, 'malformed_credentials'],
    ['a wrong password', { authorization: b64('alice:wrong') }, 'invalid_credentials'],
    ['an unknown user', { authorization: b64('mallory:correct horse') }, 'invalid_credentials'],
    ['a disabled credential', { authorization: b64('bob:correct horse') }, 'credential_disabled'],
  ])('rejects %s with 401 and a Basic challenge', async (_, headers, code) => {
    const { outcome, ctx } = await run({}, headers);
    expect(outcome).toMatchObject({ status: 401, code, headers: { 'www-authenticate': 'Basic realm="identity-manager", charset="UTF-8"' } });
    expect(ctx.identity).toBeNull();
  });
});
