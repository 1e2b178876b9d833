import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { compactDecrypt, compactVerify, jwtVerify, decodeProtectedHeader } from 'jose';
import { box, configSnapshot, snapshotProxy, snapshotSecret } from '@idm/test-kit';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext, type RequestContext } from '../policy';
import { JWE_CONTENT_ENCRYPTIONS } from '../jose-keys/schema';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const S = NOW / 1000;
const SIGN_ID = '0b000000-0000-4000-8000-000000000001';
const ENC_ID = '0b000000-0000-4000-8000-000000000002';
const OTHER_ID = '0b000000-0000-4000-8000-000000000003';
const jwkOf = (k: KeyObject) => k.export({ format: 'jwk' }) as Record<string, unknown>;

const pairs = {
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  p521: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  ed: generateKeyPairSync('ed25519'),
  x: generateKeyPairSync('x25519'),
};
const privateSecret = (id: string, pair: { privateKey: KeyObject }, kid = `${id.slice(-1)}-kid`) => snapshotSecret(id, 'private-key', [{ kid, secretJwk: jwkOf(pair.privateKey) }]);
const sharedSecret = (id: string, bytes: Buffer, kid = 'shared') => snapshotSecret(id, 'shared-secret', [{ kid, secretJwk: { kty: 'oct', k: bytes.toString('base64url') } }]);

function proxyWith(config: Record<string, unknown>, published: ReturnType<typeof snapshotSecret>[]) {
  const snapshot = configSnapshot({ proxies: [snapshotProxy({ id: 'p1', basePath: '/i', policies: [{ type: 'jose-implementation', config }], secrets: published })] });
  return compileEnvironment(snapshot, { secrets: box, now: () => NOW }).route('/i')!;
}

async function run(proxy: ReturnType<typeof proxyWith>, body: Buffer | null, headers: Record<string, string> = {}) {
  const ctx: RequestContext = createRequestContext({ method: 'POST', path: '/i', headers, query: 'q=1', clientIp: '10.0.0.7' });
  ctx.identity = { credentialId: 'c1', username: 'alice', projectId: 'proj-a' };
  ctx.body = body;
  return { outcome: await proxy.runPolicies(ctx), ctx };
}

describe('jose-implementation policy', () => {
  it('signs the body as a JWT: iss, aud list, sub and custom claims from request values, jti, iat offset, exp from iat', async () => {
    const proxy = proxyWith(
      {
        sign: { alg: 'ES256', key: { source: 'secret', secretId: SIGN_ID }, typ: 'JWT' },
        claims: {
          issuer: 'https://gw.example',
          audiences: ['orders', '${header.x-tenant}'],
          subject: '${identity.username}',
          jti: true,
          issuedAtOffsetSeconds: -5,
          expiresInSeconds: 60,
          custom: { tenant: '${header.x-tenant}', ip: '${client.ip}', q: '${query.q}' },
        },
      },
      [privateSecret(SIGN_ID, pairs.p256, 'sig-1')],
    );
    expect(proxy.readsRequestBody).toBe(true);
    const { outcome, ctx } = await run(proxy, Buffer.from('{"order":42}'), { 'x-tenant': 't1' });
    expect(outcome).toBeUndefined();
    expect(ctx.bodyContentType).toBe('application/jose');
    const { payload, protectedHeader } = await jwtVerify(ctx.body!.toString(), pairs.p256.publicKey, { currentDate: new Date(NOW) });
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'sig-1', typ: 'JWT' });
    expect(payload).toMatchObject({ order: 42, iss: 'https://gw.example', aud: ['orders', 't1'], sub: 'alice', tenant: 't1', ip: '10.0.0.7', q: '1', iat: S - 5, exp: S - 5 + 60 });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('takes exp from now when asked', async () => {
    const proxy = proxyWith(
      {
        payload: { from: 'claims' },
        output: { to: 'header', name: 'x-jwt', scheme: 'Bearer' },
        sign: { alg: 'ES256', key: { source: 'secret', secretId: SIGN_ID } },
        claims: { issuedAtOffsetSeconds: -30, expiresInSeconds: 60, expiresFrom: 'now' },
      },
      [privateSecret(SIGN_ID, pairs.p256)],
    );
    expect(proxy.readsRequestBody).toBe(false);
    expect(proxy.upstreamHeaderNames).toEqual(new Set(['x-jwt']));
    const { ctx } = await run(proxy, null);
    const { payload } = await jwtVerify(ctx.upstreamHeaders['x-jwt'].slice('Bearer '.length), pairs.p256.publicKey, { currentDate: new Date(NOW) });
    expect(payload).toMatchObject({ iat: S - 30, exp: S + 60 });
  });

  const signing: [string, { privateKey: KeyObject; publicKey: KeyObject } | Buffer][] = [
    ...['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'].map((alg): [string, typeof pairs.rsa] => [alg, pairs.rsa]),
    ['ES256', pairs.p256],
    ['ES384', pairs.p384],
    ['ES512', pairs.p521],
    ['EdDSA', pairs.ed],
    ['HS256', randomBytes(32)],
    ['HS384', randomBytes(48)],
    ['HS512', randomBytes(64)],
  ];
  it.each(signing)('signs with %s', async (alg, key) => {
    const secret = Buffer.isBuffer(key) ? sharedSecret(SIGN_ID, key) : privateSecret(SIGN_ID, key);
    const proxy = proxyWith({ sign: { alg, key: { source: 'secret', secretId: SIGN_ID } }, output: { to: 'variable', name: 'out' } }, [secret]);
    const { outcome, ctx } = await run(proxy, Buffer.from('payload'));
    expect(outcome).toBeUndefined();
    const { payload } = await compactVerify(ctx.variables!.out, Buffer.isBuffer(key) ? key : key.publicKey, { algorithms: [alg] });
    expect(Buffer.from(payload).toString()).toBe('payload');
  });

  const encryption: [string, string, { privateKey: KeyObject; publicKey: KeyObject } | Buffer][] = [
    ['RSA-OAEP', 'A256GCM', pairs.rsa],
    ['RSA-OAEP-256', 'A128CBC-HS256', pairs.rsa],
    ['ECDH-ES', 'A192GCM', pairs.p256],
    ['ECDH-ES+A128KW', 'A128GCM', pairs.p384],
    ['ECDH-ES+A192KW', 'A192CBC-HS384', pairs.x],
    ['ECDH-ES+A256KW', 'A256CBC-HS512', pairs.p521],
    ['A128KW', 'A128GCM', randomBytes(16)],
    ['A192KW', 'A256GCM', randomBytes(24)],
    ['A256KW', 'A256CBC-HS512', randomBytes(32)],
    ...JWE_CONTENT_ENCRYPTIONS.map((enc): [string, string, Buffer] => [
      'dir',
      enc,
      randomBytes({ A128GCM: 16, A192GCM: 24, A256GCM: 32, 'A128CBC-HS256': 32, 'A192CBC-HS384': 48, 'A256CBC-HS512': 64 }[enc]),
    ]),
  ];
  it.each(encryption)('encrypts with %s + %s', async (alg, enc, key) => {
    const secret = Buffer.isBuffer(key) ? sharedSecret(ENC_ID, key) : privateSecret(ENC_ID, key);
    const proxy = proxyWith({ encrypt: { alg, enc, key: { source: 'secret', secretId: ENC_ID } } }, [secret]);
    const { outcome, ctx } = await run(proxy, Buffer.from('{"card":"4111"}'));
    expect(outcome).toBeUndefined();
    const { plaintext, protectedHeader } = await compactDecrypt(ctx.body!.toString(), Buffer.isBuffer(key) ? key : key.privateKey);
    expect(protectedHeader).toMatchObject({ alg, enc });
    expect(Buffer.from(plaintext).toString()).toBe('{"card":"4111"}');
  });

  it('signs then encrypts (nested JWT, cty JWT)', async () => {
    const proxy = proxyWith(
      {
        sign: { alg: 'ES256', key: { source: 'secret', secretId: SIGN_ID } },
        encrypt: { alg: 'RSA-OAEP-256', enc: 'A256GCM', key: { source: 'secret', secretId: ENC_ID } },
        claims: { issuer: 'gw' },
      },
      [privateSecret(SIGN_ID, pairs.p256), snapshotSecret(ENC_ID, 'public-key', [{ kid: 'partner-enc', publicJwk: jwkOf(pairs.rsa.publicKey) }])],
    );
    const { ctx } = await run(proxy, Buffer.from('{}'));
    const jwe = ctx.body!.toString();
    expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', kid: 'partner-enc' });
    const inner = Buffer.from((await compactDecrypt(jwe, pairs.rsa.privateKey)).plaintext).toString();
    expect((await jwtVerify(inner, pairs.p256.publicKey, { currentDate: new Date(NOW) })).payload.iss).toBe('gw');
  });

  it('signs by issuer: the key is picked at run time from the resolved iss', async () => {
    const proxy = proxyWith(
      {
        payload: { from: 'claims' },
        output: { to: 'variable', name: 'jwt' },
        sign: { alg: 'ES256', byIssuer: { 'https://a.example': { source: 'secret', secretId: SIGN_ID }, 'https://b.example': { source: 'secret', secretId: OTHER_ID } } },
        claims: { issuer: '${header.x-issuer}' },
      },
      [privateSecret(SIGN_ID, pairs.p256, 'a'), privateSecret(OTHER_ID, generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'b')],
    );
    const a = await run(proxy, null, { 'x-issuer': 'https://a.example' });
    expect(decodeProtectedHeader(a.ctx.variables!.jwt).kid).toBe('a');
    await jwtVerify(a.ctx.variables!.jwt, pairs.p256.publicKey, { currentDate: new Date(NOW) });
    const b = await run(proxy, null, { 'x-issuer': 'https://b.example' });
    expect(decodeProtectedHeader(b.ctx.variables!.jwt).kid).toBe('b');
    expect((await run(proxy, null, { 'x-issuer': 'https://evil.example' })).outcome).toMatchObject({ status: 400, code: 'jose_issuer_unknown' });
  });

  it('refuses a missing payload, a non-object payload when claims are added, and an oversized one', async () => {
    const proxy = proxyWith({ sign: { alg: 'ES256', key: { source: 'secret', secretId: SIGN_ID } }, claims: { issuer: 'gw' }, maxPayloadBytes: 64 }, [
      privateSecret(SIGN_ID, pairs.p256),
    ]);
    expect((await run(proxy, null)).outcome).toMatchObject({ status: 400, code: 'jose_payload_missing' });
    expect((await run(proxy, Buffer.from('[1,2]'))).outcome).toMatchObject({ status: 400, code: 'jose_payload_invalid' });
    expect((await run(proxy, Buffer.from('not json'))).outcome).toMatchObject({ status: 400, code: 'jose_payload_invalid' });
    expect((await run(proxy, Buffer.from(JSON.stringify({ pad: 'x'.repeat(100) })))).outcome).toMatchObject({ status: 413, code: 'jose_payload_too_large' });
  });

  it('fails closed when it cannot sign: a public key only, or a secret not published with the proxy', () => {
    const publicOnly = snapshotSecret(SIGN_ID, 'public-key', [{ kid: 'p', publicJwk: jwkOf(pairs.p256.publicKey) }]);
    expect(proxyWith({ sign: { alg: 'ES256', key: { source: 'secret', secretId: SIGN_ID } } }, [publicOnly]).unavailable).toMatchObject({ code: 'proxy_unavailable' });
    expect(proxyWith({ sign: { alg: 'ES256', key: { source: 'secret', secretId: SIGN_ID } } }, []).unavailable).toMatchObject({ code: 'proxy_unavailable' });
  });

  it('signs the upstream answer in the response phase', async () => {
    const proxy = proxyWith({ phase: 'response', sign: { alg: 'ES256', key: { source: 'secret', secretId: SIGN_ID } } }, [privateSecret(SIGN_ID, pairs.p256)]);
    expect(proxy.readsRequestBody).toBe(false);
    const ctx = createRequestContext({ method: 'GET', path: '/i', headers: {}, query: '', clientIp: '127.0.0.1' });
    const response = { status: 200, headers: { 'content-type': 'application/json' } as Record<string, string>, body: Buffer.from('{"ok":true}') };
    expect(await proxy.runResponsePolicies!(ctx, response)).toBeUndefined();
    expect(response.headers['content-type']).toBe('application/jose');
    expect(Buffer.from((await compactVerify(response.body.toString(), pairs.p256.publicKey)).payload).toString()).toBe('{"ok":true}');
  });
});
