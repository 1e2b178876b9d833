import { box, configSnapshot, snapshotProxy, snapshotSecret } from '@idm/test-kit';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import { JWE_KEY_ALGORITHMS } from './schema';
import vectors from './rfc7520.vectors.json';

/*
 * Interoperability with RFC 7520 (the JOSE cookbook): the RFC's keys published as project secrets,
 * its compact serializations verified and decrypted through jose-validation, and its two
 * deterministic signatures (RSASSA-PKCS1-v1_5, HMAC) reproduced byte for byte by
 * jose-implementation. The vectors are in rfc7520.vectors.json, copied from the RFC's text.
 */
const SECRET = '7520c00c-0000-4000-8000-000000000001';
const keys = vectors.keys as Record<string, Record<string, unknown>>;
const jwsPayload = Buffer.from(vectors.jwsPayloadB64, 'base64url');

function secretOf(jwk: Record<string, unknown>) {
  const isPrivate = jwk.kty === 'oct' || 'd' in jwk;
  return snapshotSecret(SECRET, jwk.kty === 'oct' ? 'shared-secret' : isPrivate ? 'private-key' : 'public-key', [
    { kid: String(jwk.kid), secretJwk: isPrivate ? jwk : undefined, publicJwk: isPrivate ? undefined : jwk },
  ]);
}

function proxyWith(policy: { type: string; config: Record<string, unknown> }, jwk: Record<string, unknown>) {
  const snapshot = configSnapshot({ proxies: [snapshotProxy({ id: 'p1', basePath: '/rfc', policies: [policy], secrets: [secretOf(jwk)] })] });
  const proxy = compileEnvironment(snapshot, { secrets: box }).route('/rfc')!;
  expect(proxy.unavailable).toBeNull();
  return proxy;
}

async function run(proxy: ReturnType<typeof proxyWith>, headers: Record<string, string>, body: Buffer | null = null) {
  const ctx = createRequestContext({ method: 'POST', path: '/rfc', headers, query: '', clientIp: '127.0.0.1' });
  ctx.body = body;
  const outcome = await proxy.runPolicies(ctx);
  return { outcome, ctx };
}

describe('RFC 7520 interoperability (jose)', () => {
  it.each(vectors.jws)('§$section $alg: verifies the RFC signature', async ({ alg, key, compact }) => {
    const proxy = proxyWith(
      {
        type: 'jose-validation',
        config: { token: { from: 'header', name: 'x-jws' }, verify: { key: { source: 'secret', secretId: SECRET }, algorithms: [alg] }, jwt: false, replaceBodyWithPayload: true },
      },
      keys[key],
    );
    const { outcome, ctx } = await run(proxy, { 'x-jws': compact });
    expect(outcome).toBeUndefined();
    expect(ctx.body).toEqual(jwsPayload);
  });

  it.each(vectors.jws.filter((v) => v.signingKey))('§$section $alg: jose-implementation reproduces the RFC signature exactly', async ({ alg, signingKey, compact }) => {
    const proxy = proxyWith(
      { type: 'jose-implementation', config: { sign: { alg, key: { source: 'secret', secretId: SECRET } }, output: { to: 'variable', name: 'jws' } } },
      keys[signingKey!],
    );
    const { outcome, ctx } = await run(proxy, {}, jwsPayload);
    expect(outcome).toBeUndefined();
    expect(ctx.variables?.jws).toBe(compact);
  });

  const ours = vectors.jwe.filter((v) => (JWE_KEY_ALGORITHMS as readonly string[]).includes(v.alg));
  it('covers every RFC 7520 JWE example whose key management the policies offer', () => {
    // RSA1_5 (§5.1) and AES-GCM key wrap (§5.7) are not offered: RFC 8725 advises against RSA1_5.
    expect(ours.map((v) => v.section)).toEqual(['5.2', '5.4', '5.5', '5.6', '5.8']);
  });

  it.each(ours)('§$section $alg + $enc: decrypts the RFC ciphertext', async ({ alg, enc, key, compact }) => {
    const proxy = proxyWith(
      {
        type: 'jose-validation',
        config: {
          token: { from: 'header', name: 'x-jwe' },
          decrypt: { key: { source: 'secret', secretId: SECRET }, keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: [enc] },
          jwt: false,
          replaceBodyWithPayload: true,
        },
      },
      keys[key],
    );
    const { outcome, ctx } = await run(proxy, { 'x-jwe': compact });
    expect(outcome).toBeUndefined();
    expect(ctx.body!.toString('utf8')).toBe(vectors.jwePlaintext);
  });

  it('refuses the RFC signature with the other family of algorithm allowed (no alg confusion)', async () => {
    const rs256 = vectors.jws[0];
    const proxy = proxyWith(
      { type: 'jose-validation', config: { token: { from: 'header', name: 'x-jws' }, verify: { key: { source: 'secret', secretId: SECRET }, algorithms: ['HS256'] }, jwt: false } },
      keys.oct_mac_3_5,
    );
    const { outcome } = await run(proxy, { 'x-jws': rs256.compact });
    expect(outcome).toMatchObject({ status: 401, code: 'jose_algorithm_not_allowed' });
  });
});
