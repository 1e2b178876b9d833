import { eventually } from '@idm/test-kit';
import { CompactEncrypt, SignJWT, compactDecrypt, compactVerify, jwtVerify, importJWK, type JWK } from 'jose';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { startCluster, type Cluster } from './support/cluster';

/**
 * The JOSE policies end to end: keys created and rotated through the Manager's secrets API,
 * proxies deployed through its proxy API, a real Gateway process (built dist) in front of the
 * echo upstream, and the client side done with jose as a partner would.
 */
describe('JOSE policies through the Manager, a Gateway and the echo upstream', () => {
  const ENV = 'jose';
  let cluster: Cluster;
  let gw = '';
  let projectId = '';
  const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const partnerEnc = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const partnerSig = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const partnerSig2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const gatewayDec = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let signerPublicJwk: JWK;
  let partnerSecretId = '';
  const pem = (k: KeyObject) => k.export({ format: 'pem', type: k.type === 'private' ? 'pkcs8' : 'spki' }) as string;
  const now = () => Math.floor(Date.now() / 1000);
  const partnerToken = (claims: Record<string, unknown> = {}, key: KeyObject = partnerSig.privateKey, kid = 'partner-1') =>
    new SignJWT({ iss: 'https://partner.example', aud: 'orders', sub: 'alice', iat: now(), exp: now() + 60, ...claims }).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
  const send = (path: string, init: RequestInit = {}) => fetch(`${gw}${path}`, init).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));
  const echoOf = (text: string) => JSON.parse(text) as { headers: Record<string, string>; body: string };

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}] });
    gw = cluster.gateways[0].baseUrl;
    const { admin, echoUrl } = cluster;
    projectId = (await admin.projects.create({ name: 'jose' })).id;
    const secret = (name: string, kind: 'private-key' | 'public-key', material: string, kid: string) => admin.secrets.create(projectId, { name, kind, material, kid });
    const signing = await secret('signer', 'private-key', pem(signer.privateKey), 'gw-sig-1');
    signerPublicJwk = signing.versions[0].publicJwk as JWK;
    const enc = await secret('partner-enc', 'public-key', pem(partnerEnc.publicKey), 'partner-enc-1');
    partnerSecretId = (await secret('partner-sig', 'public-key', pem(partnerSig.publicKey), 'partner-1')).id;
    const dec = await secret('gateway-dec', 'private-key', pem(gatewayDec.privateKey), 'gw-enc-1');
    const key = (id: string) => ({ source: 'secret' as const, secretId: id });
    const proxy = (name: string, policies: { type: string; config: Record<string, unknown> }[]) =>
      admin.proxies.create(projectId, { name, basePath: `/${name}`, upstreamUrl: echoUrl, methods: ['GET', 'POST'], policies, environments: [ENV] });
    await proxy('jose-sign', [
      {
        type: 'jose-implementation',
        config: {
          sign: { alg: 'ES256', key: key(signing.id), typ: 'JWT' },
          claims: {
            issuer: 'https://gw.example',
            audiences: ['orders', 'billing'],
            subject: '${header.x-user}',
            jti: true,
            expiresInSeconds: 60,
            custom: { tenant: '${query.tenant}' },
          },
          maxPayloadBytes: 4096,
        },
      },
    ]);
    await proxy('jose-encrypt', [{ type: 'jose-implementation', config: { encrypt: { alg: 'RSA-OAEP-256', enc: 'A256GCM', key: key(enc.id) } } }]);
    await proxy('jose-response', [{ type: 'jose-implementation', config: { phase: 'response', sign: { alg: 'ES256', key: key(signing.id) } } }]);
    await proxy('jose-validate', [
      {
        type: 'jose-validation',
        config: {
          verify: { key: key(partnerSecretId), algorithms: ['ES256', 'HS256'] },
          issuers: ['https://partner.example'],
          audiences: ['orders'],
          claimHeaders: { sub: 'x-partner-sub' },
        },
      },
    ]);
    await proxy('jose-decrypt', [
      {
        type: 'jose-validation',
        config: {
          token: { from: 'body' },
          decrypt: { key: key(dec.id), keyManagementAlgorithms: ['RSA-OAEP-256'], contentEncryptionAlgorithms: ['A256GCM'] },
          jwt: false,
          replaceBodyWithPayload: true,
        },
      },
    ]);
    await eventually(
      () => send('/jose-decrypt/x', { method: 'POST', body: 'x' }),
      (r) => r.status === 401,
      { what: 'JOSE proxies served', timeoutMs: 30000 },
    );
  }, 180000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30000);

  it('signs the request body as a JWT with the configured claims; the upstream receives the JWS', async () => {
    const r = await send('/jose-sign/orders?tenant=t1', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user': 'alice' },
      body: JSON.stringify({ order: 42 }),
    });
    expect(r.status).toBe(200);
    const echo = echoOf(r.text);
    expect(echo.headers['content-type']).toBe('application/jose');
    expect(echo.headers['content-length']).toBe(String(Buffer.byteLength(echo.body)));
    const { payload, protectedHeader } = await jwtVerify(echo.body, await importJWK(signerPublicJwk, 'ES256'), { audience: 'billing', issuer: 'https://gw.example' });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: 'gw-sig-1', typ: 'JWT' });
    expect(payload).toMatchObject({ order: 42, sub: 'alice', tenant: 't1', aud: ['orders', 'billing'] });
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it('refuses what it cannot sign: an oversized body (413), a body that is not a JSON object (400), none at all (400)', async () => {
    expect(await send('/jose-sign/x', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(5000) }) })).toMatchObject({ status: 413 });
    expect(JSON.parse((await send('/jose-sign/x', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(5000) }) })).text)).toMatchObject({ code: 'jose_payload_too_large' });
    expect(JSON.parse((await send('/jose-sign/x', { method: 'POST', body: '[1]' })).text)).toMatchObject({ code: 'jose_payload_invalid' });
    expect(JSON.parse((await send('/jose-sign/x', { method: 'POST' })).text)).toMatchObject({ code: 'jose_payload_missing' });
  });

  it('encrypts the request body to the partner key (RSA-OAEP-256 + A256GCM)', async () => {
    const r = await send('/jose-encrypt/pay', { method: 'POST', body: '{"card":"4111"}' });
    const { plaintext, protectedHeader } = await compactDecrypt(echoOf(r.text).body, partnerEnc.privateKey);
    expect(protectedHeader).toMatchObject({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'partner-enc-1' });
    expect(Buffer.from(plaintext).toString()).toBe('{"card":"4111"}');
  });

  it("signs the upstream's answer (response phase)", async () => {
    const r = await send('/jose-response/hello');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/jose');
    const { payload } = await compactVerify(r.text, await importJWK(signerPublicJwk, 'ES256'));
    expect(JSON.parse(Buffer.from(payload).toString())).toMatchObject({ path: '/hello' });
  });

  it('validates a partner JWT, forwards its sub as a header the client cannot forge, and strips the token', async () => {
    const r = await send('/jose-validate/x', { headers: { authorization: `Bearer ${await partnerToken()}`, 'x-partner-sub': 'mallory' } });
    expect(r.status).toBe(200);
    const echo = echoOf(r.text);
    expect(echo.headers['x-partner-sub']).toBe('alice');
    expect(echo.headers.authorization).toBeUndefined();
  });

  it('decrypts a JWE body and forwards the plaintext', async () => {
    const jwe = await new CompactEncrypt(Buffer.from('{"secret":"data"}'))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'gw-enc-1' })
      .encrypt(gatewayDec.publicKey);
    const r = await send('/jose-decrypt/x', { method: 'POST', body: jwe });
    expect(echoOf(r.text).body).toBe('{"secret":"data"}');
    const wrong = await new CompactEncrypt(Buffer.from('x')).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' }).encrypt(partnerEnc.publicKey);
    expect(JSON.parse((await send('/jose-decrypt/x', { method: 'POST', body: wrong })).text)).toMatchObject({ code: 'jose_decryption_failed' });
  });

  it.each([
    ['no token', async () => undefined, 'jose_token_missing'],
    ['a token signed by another key', () => partnerToken({}, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), 'jose_signature_invalid'],
    ['an expired token', () => partnerToken({ iat: now() - 600, exp: now() - 300 }), 'jose_token_expired'],
    ['a token for another audience', () => partnerToken({ aud: 'payments' }), 'jose_claims_invalid'],
    [
      'a tampered token',
      async () =>
        (await partnerToken()).replace(
          /\.([^.]+)\./,
          (_m, p: string) => `.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' })).toString('base64url')}.`,
        ),
      'jose_signature_invalid',
    ],
    [
      'HS256 made with the public key (algorithm confusion)',
      () =>
        new SignJWT({ iss: 'https://partner.example', aud: 'orders', exp: now() + 60 })
          .setProtectedHeader({ alg: 'HS256', kid: 'partner-1' })
          .sign(Buffer.from(pem(partnerSig.publicKey))),
      'jose_algorithm_not_allowed',
    ],
  ])('refuses %s with 401 %s', async (_name, make, code) => {
    const token = await make();
    const r = await send('/jose-validate/x', { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text)).toMatchObject({ code, requestId: expect.any(String) });
  });

  it('refuses an oversized token: in the body past maxTokenBytes (401), in a header past the listener limit (431)', async () => {
    const big = await send('/jose-decrypt/x', { method: 'POST', body: `${'a'.repeat(300_000)}.b.c.d.e` });
    expect(big.status).toBe(401);
    expect(JSON.parse(big.text)).toMatchObject({ code: 'jose_token_invalid' });
    expect((await send('/jose-validate/x', { headers: { authorization: `Bearer ${'a'.repeat(300_000)}.b.c` } })).status).toBe(431);
  });

  it('accepts both the old and the new partner key after a rotation with overlap, published by the Manager', async () => {
    const oldToken = await partnerToken();
    const rotated = await cluster.admin.secrets.rotate(projectId, partnerSecretId, { material: pem(partnerSig2.publicKey), kid: 'partner-2', overlapSeconds: 600 });
    expect(rotated.versions.map((v) => v.kid)).toEqual(['partner-1', 'partner-2']);
    const newToken = await partnerToken({}, partnerSig2.privateKey, 'partner-2');
    await eventually(
      () => send('/jose-validate/x', { headers: { authorization: `Bearer ${newToken}` } }),
      (r) => r.status === 200,
      { what: 'the rotated key is served', timeoutMs: 20000 },
    );
    expect((await send('/jose-validate/x', { headers: { authorization: `Bearer ${oldToken}` } })).status).toBe(200);
  });
});
