import { generateKeyPairSync, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CompactEncrypt, CompactSign, SignJWT, exportJWK } from 'jose';
import { box, configSnapshot, snapshotProxy, snapshotSecret, TestPki, type SecretVersionSpec, type TestCertificate } from '@idm/test-kit';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const S = NOW / 1000;
const KEY_ID = '0a000000-0000-4000-8000-000000000001';
const TRUST_ID = '0a000000-0000-4000-8000-000000000002';
const CLIENT_CERT_ID = '0a000000-0000-4000-8000-000000000003';

const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwkOf = (k: KeyObject) => k.export({ format: 'jwk' }) as Record<string, unknown>;

const secrets = {
  es: (versions: SecretVersionSpec[] = [{ kid: 'es-1', secretJwk: jwkOf(es.privateKey) }]) => snapshotSecret(KEY_ID, 'private-key', versions),
  rsaPublic: () => snapshotSecret(KEY_ID, 'public-key', [{ kid: 'rsa-1', publicJwk: jwkOf(rsa.publicKey) }]),
};

function proxyWith(config: Record<string, unknown>, published = [secrets.es()], now = NOW) {
  const snapshot = configSnapshot({ proxies: [snapshotProxy({ id: 'p1', basePath: '/v', policies: [{ type: 'jose-validation', config }], secrets: published })] });
  return compileEnvironment(snapshot, { secrets: box, now: () => now }).route('/v')!;
}

async function run(proxy: ReturnType<typeof proxyWith>, token: string | undefined, headers: Record<string, string> = {}) {
  const ctx = createRequestContext({
    method: 'GET',
    path: '/v',
    headers: token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` },
    query: '',
    clientIp: '127.0.0.1',
  });
  return { outcome: await proxy.runPolicies(ctx), ctx };
}

const es256 = (over: Record<string, unknown> = {}) => ({
  verify: { key: { source: 'secret', secretId: KEY_ID }, algorithms: ['ES256'] },
  issuers: ['https://partner.example'],
  audiences: ['orders'],
  ...over,
});
const token = (claims: Record<string, unknown> = {}, key: KeyObject = es.privateKey, header: Record<string, unknown> = { alg: 'ES256', kid: 'es-1' }) =>
  new SignJWT({ iss: 'https://partner.example', aud: 'orders', sub: 'alice', iat: S, exp: S + 60, tenant: 't1', roles: ['a', 'b'], ...claims })
    .setProtectedHeader(header as never)
    .sign(key);

describe('jose-validation policy', () => {
  it('verifies, checks claims, projects claims into upstream headers and variables, and strips the token', async () => {
    const proxy = proxyWith(es256({ claimHeaders: { sub: 'x-partner-sub', roles: 'x-partner-roles' }, claimVariables: { tenant: 'tenant' } }));
    expect(proxy.upstreamHeaderNames).toEqual(new Set(['x-partner-sub', 'x-partner-roles']));
    const { outcome, ctx } = await run(proxy, await token());
    expect(outcome).toBeUndefined();
    expect(ctx.upstreamHeaders).toEqual({ 'x-partner-sub': 'alice', 'x-partner-roles': 'a,b' });
    expect(ctx.variables).toEqual({ tenant: 't1' });
    expect(ctx.strippedHeaders).toContain('authorization');
  });

  it.each([
    ['no token', undefined, 'jose_token_missing'],
    ['not a JWS', 'not-a-token', 'jose_token_invalid'],
    ['expired', token({ exp: S - 60 }), 'jose_token_expired'],
    ['wrong audience', token({ aud: 'payments' }), 'jose_claims_invalid'],
    ['wrong issuer', token({ iss: 'https://evil.example' }), 'jose_claims_invalid'],
    ['signed by another key', token({}, other.privateKey), 'jose_signature_invalid'],
    ['an unknown kid', token({}, es.privateKey, { alg: 'ES256', kid: 'nope' }), 'jose_key_not_found'],
    [
      'an algorithm outside the list',
      token({}, createPrivateKey(es.privateKey.export({ format: 'pem', type: 'pkcs8' })), { alg: 'ES256', kid: 'es-1' }).then(
        (t) => `${Buffer.from('{"alg":"ES384","kid":"es-1"}').toString('base64url')}.${t.split('.')[1]}.${t.split('.')[2]}`,
      ),
      'jose_algorithm_not_allowed',
    ],
    ['alg none', Promise.resolve(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`), 'jose_algorithm_not_allowed'],
  ])('refuses %s (401 %s)', async (_name, t, code) => {
    const { outcome } = await run(proxyWith(es256()), t === undefined ? undefined : await t);
    expect(outcome).toMatchObject({ status: 401, code });
  });

  it('refuses a tampered payload', async () => {
    const [h, , sig] = (await token()).split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: 'https://partner.example', aud: 'orders', sub: 'admin', iat: S, exp: S + 60 })).toString('base64url')}.${sig}`;
    expect((await run(proxyWith(es256()), forged)).outcome).toMatchObject({ status: 401, code: 'jose_signature_invalid' });
  });

  it('refuses HS256 signed with the RSA public key even when HS256 is listed (algorithm confusion)', async () => {
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const forged = await new SignJWT({ iss: 'https://partner.example', aud: 'orders', iat: S, exp: S + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .sign(Buffer.from(pem));
    const proxy = proxyWith({ verify: { key: { source: 'secret', secretId: KEY_ID }, algorithms: ['RS256', 'HS256'] } }, [secrets.rsaPublic()]);
    expect((await run(proxy, forged)).outcome).toMatchObject({ status: 401, code: 'jose_algorithm_not_allowed' });
  });

  it('refuses a token over its size limit', async () => {
    const big = await token({ pad: 'x'.repeat(2000) });
    expect((await run(proxyWith(es256({ maxTokenBytes: 1024 })), big)).outcome).toMatchObject({ status: 401, code: 'jose_token_invalid' });
  });

  it('keeps verifying with a rotated-out version until its deadline, then refuses its kid', async () => {
    const versions: SecretVersionSpec[] = [
      { kid: 'es-1', secretJwk: jwkOf(es.privateKey), retiresAt: new Date(NOW + 60_000).toISOString() },
      { kid: 'es-2', secretJwk: jwkOf(other.privateKey) },
    ];
    const old = await token();
    const fresh = await token({}, other.privateKey, { alg: 'ES256', kid: 'es-2' });
    expect((await run(proxyWith(es256(), [secrets.es(versions)]), old)).outcome).toBeUndefined();
    expect((await run(proxyWith(es256(), [secrets.es(versions)]), fresh)).outcome).toBeUndefined();
    const later = proxyWith(es256({ clockSkewSeconds: 0 }), [secrets.es(versions)], NOW + 61_000);
    expect((await run(later, await token({ iat: S + 61, exp: S + 600 }))).outcome).toMatchObject({ code: 'jose_key_not_found' });
  });

  it('decrypts then verifies a nested JWT (RSA-OAEP-256 + A256GCM around ES256)', async () => {
    const rsaSecret = snapshotSecret(KEY_ID, 'private-key', [{ kid: 'rsa-1', secretJwk: jwkOf(rsa.privateKey) }]);
    const esPublic = snapshotSecret(TRUST_ID, 'public-key', [{ kid: 'es-1', publicJwk: jwkOf(es.publicKey) }]);
    const config = {
      decrypt: { key: { source: 'secret', secretId: KEY_ID }, keyManagementAlgorithms: ['RSA-OAEP-256'], contentEncryptionAlgorithms: ['A256GCM'] },
      verify: { key: { source: 'secret', secretId: TRUST_ID }, algorithms: ['ES256'] },
      claimHeaders: { sub: 'x-partner-sub' },
    };
    const jwe = await new CompactEncrypt(Buffer.from(await token())).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', kid: 'rsa-1' }).encrypt(rsa.publicKey);
    const proxy = proxyWith(config, [rsaSecret, esPublic]);
    const { outcome, ctx } = await run(proxy, jwe);
    expect(outcome).toBeUndefined();
    expect(ctx.upstreamHeaders['x-partner-sub']).toBe('alice');
    const tampered = jwe.slice(0, -4) + (jwe.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await run(proxy, tampered)).outcome).toMatchObject({ code: 'jose_decryption_failed' });
    const wrongKey = await new CompactEncrypt(Buffer.from(await token()))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'rsa-1' })
      .encrypt(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    expect((await run(proxy, wrongKey)).outcome).toMatchObject({ code: 'jose_decryption_failed' });
    expect((await run(proxy, await token())).outcome).toMatchObject({ code: 'jose_token_invalid' });
  });

  it('fails closed (503 proxy_unavailable) when the referenced secret is not published with the proxy', () => {
    expect(proxyWith(es256(), []).unavailable).toMatchObject({ status: 503, code: 'proxy_unavailable' });
  });

  describe('x5c against a trust store', () => {
    let pki: TestPki;
    let ca: TestCertificate;
    let leaf: TestCertificate;
    let rogueCa: TestCertificate;
    let rogueLeaf: TestCertificate;
    beforeAll(async () => {
      pki = await TestPki.create();
      ca = await pki.issue('ca', { subject: '/CN=Partner CA', ca: true });
      leaf = await pki.issue('leaf', { subject: '/CN=partner-signer', issuer: ca });
      rogueCa = await pki.issue('rogue-ca', { subject: '/CN=Partner CA', ca: true });
      rogueLeaf = await pki.issue('rogue-leaf', { subject: '/CN=partner-signer', issuer: rogueCa });
    });
    const x5cOf = (cert: TestCertificate) => [new X509Certificate(cert.cert).raw.toString('base64')];
    const signWith = (cert: TestCertificate, x5c: string[]) =>
      new SignJWT({ iss: 'https://partner.example', iat: S, exp: S + 60 }).setProtectedHeader({ alg: 'ES256', x5c }).sign(createPrivateKey(cert.key));

    it('accepts a chain ending at the trust store and refuses one that does not, or a token without x5c', async () => {
      const trust = snapshotSecret(TRUST_ID, 'trust-store', [{ kid: 'ca', certificates: [ca.cert] }]);
      const proxy = proxyWith({ verify: { key: { source: 'x5c', trustStoreSecretId: TRUST_ID }, algorithms: ['ES256'] } }, [trust], Date.now());
      const now = Math.floor(Date.now() / 1000);
      const fresh = (cert: TestCertificate, x5c: string[]) => new SignJWT({ iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'ES256', x5c }).sign(createPrivateKey(cert.key));
      expect((await run(proxy, await fresh(leaf, x5cOf(leaf)))).outcome).toBeUndefined();
      expect((await run(proxy, await fresh(rogueLeaf, x5cOf(rogueLeaf)))).outcome).toMatchObject({ code: 'jose_certificate_untrusted' });
      // The trusted leaf's certificate presented with another key's signature.
      expect((await run(proxy, await fresh(rogueLeaf, x5cOf(leaf)))).outcome).toMatchObject({ code: 'jose_signature_invalid' });
      const bare = await new SignJWT({ iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'ES256' }).sign(createPrivateKey(leaf.key));
      expect((await run(proxy, bare)).outcome).toMatchObject({ code: 'jose_certificate_untrusted' });
      void signWith;
    });
  });

  describe('partner JWKS', () => {
    let server: Server;
    let fetches = 0;
    let up = true;
    let keys: Record<string, unknown>[] = [];
    let url = '';
    beforeAll(async () => {
      keys = [{ ...(await exportJWK(es.publicKey)), kid: 'p-1', alg: 'ES256', use: 'sig' }];
      server = createServer((_req, res) => {
        fetches++;
        if (!up) return res.writeHead(503).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    const jwksConfig = (over: Record<string, unknown> = {}) => ({ verify: { key: { source: 'jwks', url, retries: 0, ...over }, algorithms: ['ES256'] } });
    const live = (over: Record<string, unknown> = {}) => proxyWith(jwksConfig(over), [], Date.now());
    const partnerToken = (kid: string, key = es.privateKey) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
    };

    it('fetches once, serves from the cache, bounds refetches on a flood of unknown kids, and keeps the stale set while the partner is down', async () => {
      fetches = 0;
      up = true;
      const proxy = live();
      expect((await run(proxy, await partnerToken('p-1'))).outcome).toBeUndefined();
      expect((await run(proxy, await partnerToken('p-1'))).outcome).toBeUndefined();
      expect(fetches).toBe(1);
      for (let i = 0; i < 20; i++) expect((await run(proxy, await partnerToken(`random-${i}`))).outcome).toMatchObject({ code: 'jose_key_not_found' });
      expect(fetches).toBe(2);
      up = false;
      expect((await run(proxy, await partnerToken('p-1'))).outcome).toBeUndefined();
    });

    it('answers 503 jose_keys_unavailable when the partner is down and nothing is cached, after its retries', async () => {
      up = false;
      fetches = 0;
      const { outcome } = await run(live({ retries: 2 }), await partnerToken('p-1'));
      expect(outcome).toMatchObject({ status: 503, code: 'jose_keys_unavailable' });
      expect(fetches).toBe(3);
      up = true;
    });

    it('refuses a key set larger than its capacity', async () => {
      up = true;
      expect((await run(live({ cacheCapacity: 0 + 1 }), await partnerToken('p-1'))).outcome).toBeUndefined();
      const many = keys;
      keys = [...many, { ...many[0], kid: 'p-2' }];
      expect((await run(live({ cacheCapacity: 1 }), await partnerToken('p-1'))).outcome).toMatchObject({ code: 'jose_keys_unavailable' });
      keys = many;
    });

    it('fetches over mTLS with the client certificate and trust store secrets', async () => {
      const pki = await TestPki.create();
      const ca = await pki.issue('ca', { subject: '/CN=mtls CA', ca: true });
      const serverCert = await pki.issue('server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' });
      const client = await pki.issue('client', { subject: '/CN=gateway', issuer: ca });
      const seen: (string | undefined)[] = [];
      const tls = createTlsServer({ cert: serverCert.cert, key: serverCert.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
        seen.push((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN as string | undefined);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
      });
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
      try {
        const tlsUrl = `https://127.0.0.1:${(tls.address() as AddressInfo).port}/jwks`;
        const clientSecret = snapshotSecret(CLIENT_CERT_ID, 'certificate', [
          { kid: 'gw', certificates: [client.cert], secretJwk: jwkOf(createPrivateKey(client.key)), publicJwk: null },
        ]);
        const trust = snapshotSecret(TRUST_ID, 'trust-store', [{ kid: 'ca', certificates: [ca.cert] }]);
        const config = {
          verify: { key: { source: 'jwks', url: tlsUrl, retries: 0, clientCertificateSecretId: CLIENT_CERT_ID, trustStoreSecretId: TRUST_ID }, algorithms: ['ES256'] },
        };
        const proxy = proxyWith(config, [clientSecret, trust], Date.now());
        expect((await run(proxy, await partnerToken('p-1'))).outcome).toBeUndefined();
        expect(seen).toEqual(['gateway']);
        const withoutClientCert = proxyWith({ verify: { ...config.verify, key: { ...config.verify.key, clientCertificateSecretId: undefined } } }, [trust], Date.now());
        expect((await run(withoutClientCert, await partnerToken('p-1'))).outcome).toMatchObject({ code: 'jose_keys_unavailable' });
      } finally {
        await new Promise((resolve) => tls.close(resolve));
      }
    });
  });

  it('validates a signed response body in the response phase and refuses a bad one with 502', async () => {
    const proxy = proxyWith({
      phase: 'response',
      token: { from: 'body' },
      verify: { key: { source: 'secret', secretId: KEY_ID }, algorithms: ['ES256'] },
      jwt: false,
      replaceBodyWithPayload: true,
    });
    const ctx = createRequestContext({ method: 'GET', path: '/v', headers: {}, query: '', clientIp: '127.0.0.1' });
    const signed = await new CompactSign(Buffer.from('{"ok":true}')).setProtectedHeader({ alg: 'ES256', kid: 'es-1' }).sign(es.privateKey);
    const good = { status: 200, headers: {}, body: Buffer.from(signed) };
    expect(await proxy.runResponsePolicies!(ctx, good)).toBeUndefined();
    expect(good.body.toString()).toBe('{"ok":true}');
    const bad = { status: 200, headers: {}, body: Buffer.from(signed.slice(0, -3) + 'abc') };
    expect(await proxy.runResponsePolicies!(ctx, bad)).toMatchObject({ status: 502, code: 'jose_response_rejected' });
  });
});
