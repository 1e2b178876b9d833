import type { ConfigSnapshot } from '@idm/config-bus';
import { DIGEST_REALM, SecretBox } from '@idm/domain';
import { createHash, randomBytes } from 'node:crypto';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import { parseDigestAuthorization } from './digest-authorization';
import { computeDigestHa1 } from './digest-ha1';
import { InMemoryDigestNonceStore } from './digest-nonce.store';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

const box = new SecretBox([{ id: 'k1', key: randomBytes(32) }]);
const nonceKey = randomBytes(32);
const h = (alg: string, v: string) =>
  createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(v)
    .digest('hex');

/** What curl --digest computes from a challenge. */
function answer(challenge: string, o: { user?: string; password?: string; method?: string; uri?: string; nc?: string; algorithm?: string; realm?: string }) {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1];
  const opaque = /opaque="([^"]+)"/.exec(challenge)![1];
  const algorithm = o.algorithm ?? /algorithm=([A-Z0-9-]+)/.exec(challenge)![1];
  const user = o.user ?? 'alice';
  const realm = o.realm ?? DIGEST_REALM;
  const uri = o.uri ?? '/demo/x';
  const nc = o.nc ?? '00000001';
  const cnonce = 'c0ffee';
  const ha1 = h(algorithm, `${user}:${realm}:${o.password ?? 'correct horse'}`);
  const response = h(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${h(algorithm, `${o.method ?? 'GET'}:${uri}`)}`);
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", algorithm=${algorithm}, response="${response}", opaque="${opaque}", qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

describe('digest-auth policy', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const store = new InMemoryDigestNonceStore(() => now);
  const sealed = box.seal(JSON.stringify(computeDigestHa1('alice', DIGEST_REALM, 'correct horse')));
  const cred = (id: string, username: string, extra = {}) =>
    snapshotCredential({ id, username, digestHa1: box.seal(JSON.stringify(computeDigestHa1(username, DIGEST_REALM, 'correct horse'))), ...extra });
  const snapshot = (policies: ConfigSnapshot['proxies'][number]['policies']): ConfigSnapshot =>
    configSnapshot({
      proxies: [snapshotProxy({ id: 'p1', name: 'demo', basePath: '/demo', upstreamUrl: 'http://127.0.0.1:1', methods: ['GET', 'POST'], policies })],
      credentials: [
        cred('c1', 'alice', { digestHa1: sealed }),
        cred('c2', 'bob', { enabled: false }),
        cred('c3', 'carol', { expiresAt: '2000-01-01T00:00:00Z' }),
        cred('c4', 'dave', { digestHa1: null }),
        cred('c5', 'erin', { digestHa1: new SecretBox([{ id: 'other', key: randomBytes(32) }]).seal('{}') }),
      ],
    });
  const env = (policies = [{ type: 'digest-auth', config: {} }]) =>
    compileEnvironment(snapshot(policies), { now: () => now, secrets: box, digest: { nonceKey, nonceStore: store } });
  let compiled = env();
  const run = async (authorization?: string, path = '/demo/x', method = 'GET') => {
    const q = path.indexOf('?');
    const ctx = createRequestContext({
      method,
      path: q < 0 ? path : path.slice(0, q),
      headers: authorization === undefined ? {} : { authorization },
      query: q < 0 ? '' : path.slice(q + 1),
      clientIp: '::1',
    });
    const outcome = await compiled.route(path)!.runPolicies(ctx);
    return { outcome, ctx };
  };
  const challenge = async () => ((await run()).outcome!.headers!['www-authenticate'] as string[])[0];

  it('challenges with realm, nonce, opaque, algorithm and qop="auth", SHA-256 first, MD5 second', async () => {
    const { outcome } = await run();
    expect(outcome).toMatchObject({ status: 401, code: 'missing_credentials' });
    const [sha, md5] = outcome!.headers!['www-authenticate'] as string[];
    expect(sha).toMatch(/^Digest realm="identity-manager", qop="auth", algorithm=SHA-256, nonce="[A-Za-z0-9_-]{48}", opaque="[A-Za-z0-9_-]+"$/);
    expect(md5).toContain('algorithm=MD5');
  });

  it.each(['SHA-256', 'MD5'])('accepts a correct %s response, sets the identity and strips Authorization', async (algorithm) => {
    const { outcome, ctx } = await run(answer(await challenge(), { algorithm }));
    expect(outcome).toBeUndefined();
    expect(ctx.identity).toEqual({ credentialId: 'c1', username: 'alice', projectId: 'proj-a' });
    expect(ctx.strippedHeaders).toEqual(['authorization']);
  });

  it('accepts increasing nonce counts and rejects a replayed or backwards count', async () => {
    const c = await challenge();
    expect((await run(answer(c, { nc: '00000001' }))).outcome).toBeUndefined();
    expect((await run(answer(c, { nc: '00000003' }))).outcome).toBeUndefined();
    expect((await run(answer(c, { nc: '00000003' }))).outcome).toMatchObject({ status: 401, code: 'nonce_replayed' });
    expect((await run(answer(c, { nc: '00000002' }))).outcome).toMatchObject({ status: 401, code: 'nonce_replayed' });
  });

  it('answers an expired nonce with stale=true, but only to someone who knows the password', async () => {
    const c = await challenge();
    now += 301_000;
    try {
      const { outcome } = await run(answer(c, {}));
      expect(outcome).toMatchObject({ status: 401, code: 'nonce_expired' });
      expect((outcome!.headers!['www-authenticate'] as string[])[0]).toContain('stale=true');
      expect((await run(answer(c, { password: 'wrong' }))).outcome).toMatchObject({ code: 'invalid_credentials' });
    } finally {
      now -= 301_000;
    }
  });

  it.each<[string, Parameters<typeof answer>[1], string]>([
    ['a wrong password', { password: 'wrong' }, 'invalid_credentials'],
    ['an unknown user', { user: 'mallory' }, 'invalid_credentials'],
    ['a credential without digest HA1', { user: 'dave' }, 'invalid_credentials'],
    ['an HA1 sealed under an unknown master key', { user: 'erin' }, 'invalid_credentials'],
    ['another realm', { realm: 'elsewhere' }, 'invalid_credentials'],
    ['a disabled credential', { user: 'bob' }, 'credential_disabled'],
    ['an expired credential', { user: 'carol' }, 'credential_expired'],
    ['an unknown algorithm', { algorithm: 'SHA-512-256' }, 'unsupported_algorithm'],
    ['MD5-sess', { algorithm: 'MD5-SESS' }, 'unsupported_algorithm'],
  ])('rejects %s with 401 and a fresh challenge', async (_, o, code) => {
    const c = await challenge();
    const { outcome, ctx } = await run(o.algorithm ? answer(c, { algorithm: 'MD5' }).replace('algorithm=MD5', `algorithm=${o.algorithm}`) : answer(c, o));
    expect(outcome).toMatchObject({ status: 401, code, headers: { 'www-authenticate': expect.any(Array) } });
    expect(ctx.identity).toBeNull();
  });

  it('rejects a nonce it did not issue and an opaque of another proxy', async () => {
    const c = await challenge();
    const forged = c.replace(/nonce="([^"]+)"/, (_, n: string) => `nonce="${(n[0] === 'A' ? 'B' : 'A') + n.slice(1)}"`);
    expect((await run(answer(forged, {}))).outcome).toMatchObject({ status: 401, code: 'invalid_nonce' });
    expect((await run(answer(c.replace(/opaque="[^"]+"/, 'opaque="xyz"'), {}))).outcome).toMatchObject({ status: 401, code: 'invalid_nonce' });
  });

  it('binds the response to the request target and method', async () => {
    const c = await challenge();
    expect((await run(answer(c, { uri: '/demo/other' }))).outcome).toMatchObject({ status: 400, code: 'malformed_credentials' });
    expect((await run(answer(c, { uri: '/demo/x?a=1' }), '/demo/x?a=1')).outcome).toBeUndefined();
    expect((await run(answer(c, { method: 'GET', nc: '00000009' }), '/demo/x', 'POST')).outcome).toMatchObject({ code: 'invalid_credentials' });
  });

  it.each([
    ['a duplicated field', (a: string) => a.replace('qop=auth', 'qop=auth, qop=auth')],
    ['a missing response', (a: string) => a.replace(/response="[^"]+", /, '')],
    ['a missing cnonce with qop', (a: string) => a.replace(', cnonce="c0ffee"', '')],
    ['an unterminated quoted string', (a: string) => a.replace(/"c0ffee"$/, '"c0ffee')],
    ['qop auth-int', (a: string) => a.replace('qop=auth', 'qop=auth-int')],
    ['a huge header', (a: string) => a + ', cnonce2="' + 'x'.repeat(5000) + '"'],
    ['userhash', (a: string) => a + ', userhash=true'],
    ['garbage', () => 'Digest ,,,=,'],
  ])('rejects %s as 400 malformed_credentials', async (_, mutate) => {
    const { outcome } = await run(mutate(answer(await challenge(), {})));
    expect(outcome).toMatchObject({ status: 400, code: 'malformed_credentials' });
  });

  it('treats other schemes as missing credentials', async () => {
    expect((await run('Basic YWxpY2U6eA==')).outcome).toMatchObject({ status: 401, code: 'missing_credentials' });
  });

  it('answers 503 when the nonce store fails (fail closed)', async () => {
    compiled = compileEnvironment(snapshot([{ type: 'digest-auth', config: {} }]), {
      now: () => now,
      secrets: box,
      digest: { nonceKey, nonceStore: { advance: () => Promise.reject(new Error('down')) } },
    });
    try {
      expect((await run(answer(await challenge(), {}))).outcome).toMatchObject({ status: 503, code: 'nonce_store_unavailable' });
    } finally {
      compiled = env();
    }
  });

  it('fails closed (proxy unavailable) on a host without master key or nonce store', () => {
    const bare = compileEnvironment(snapshot([{ type: 'digest-auth', config: {} }]));
    expect(bare.route('/demo/x')!.unavailable).toMatchObject({ status: 503, code: 'proxy_unavailable' });
  });

  it('offers only the configured algorithms', async () => {
    compiled = env([{ type: 'digest-auth', config: { algorithms: ['MD5'] } }]);
    try {
      const c = await challenge();
      expect(c).toContain('algorithm=MD5');
      expect((await run(answer(c, { algorithm: 'SHA-256' }))).outcome).toMatchObject({ code: 'unsupported_algorithm' });
      expect((await run(answer(c, {}))).outcome).toBeUndefined();
    } finally {
      compiled = env();
    }
  });
});

describe('parseDigestAuthorization', () => {
  it('parses quoted strings with escapes, tokens and defaults algorithm to MD5', () => {
    expect(parseDigestAuthorization('Digest username="a\\"b", realm="r", nonce="n", uri="/x", response="abc", qop=auth, nc=00000001, cnonce="c"')).toEqual({
      username: 'a"b',
      realm: 'r',
      nonce: 'n',
      uri: '/x',
      response: 'abc',
      algorithm: 'MD5',
      qop: 'auth',
      nc: '00000001',
      cnonce: 'c',
      opaque: null,
    });
  });
  it.each(
    [
      ['Bearer x', null],
      ['Digest', 'missing_field'],
      ['Digest username="a", username="b"', 'duplicate_field'],
      ['Digest username="a" realm="r"', 'syntax'],
      ['Digest foo="bar", username="a", realm="r", nonce="n", uri="/", response="x"', 'syntax'],
      ['Digest username="a", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=1, cnonce="c"', 'syntax'],
      ['Digest username="a\u0001", realm="r", nonce="n", uri="/", response="x"', 'syntax'],
      [`Digest username="${'a'.repeat(5000)}"`, 'too_large'],
    ].map(([header, expected]) => [String(header).slice(0, 60), header, expected]),
  )('%s -> %s', (_, header, expected) => {
    expect(parseDigestAuthorization(header as string)).toBe(expected);
  });
});
