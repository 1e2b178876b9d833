import { createHash, generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import { curl as curlFor, eventually, freePort, listenOnLoopback, TestPki, type TestCertificate } from '@idm/test-kit';
import { startCluster, type Cluster } from './support/cluster';

/**
 * Sender-constrained tokens end to end: one Manager and two Gateway processes (HTTP and HTTPS
 * listeners, server nonces required at the token endpoints). openid-client's DPoP support obtains
 * DPoP-bound tokens from `/credential` and calls jwt-auth and oauth2-auth proxies with them on
 * both Gateways (a proof replayed on the other Gateway is refused); curl with a client
 * certificate obtains certificate-bound tokens (RFC 8705) over the HTTPS listener, which then
 * work only with that certificate. Every refusal carries its reason code.
 */
describe('DPoP (RFC 9449) and certificate-bound (RFC 8705) tokens on two Gateways', () => {
  const ENV = 'bound';
  const SECRET = 'bound-client-secret';
  let cluster: Cluster;
  let pki: TestPki;
  let serverCa: TestCertificate;
  let clientCert: TestCertificate;
  let otherCert: TestCertificate;
  let gw: string;
  let gwB: string;
  let tls: string[];
  let appId: string;

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, any>;
  const curl = (args: string[]) => curlFor(['--cacert', serverCa.certFile, ...args]);
  const withCert = (c: TestCertificate) => ['--cert', c.certFile, '--key', c.keyFile];

  /** openid-client against `/credential` of the first Gateway (the fleet's public URL); `via` sends the requests to another Gateway, as a load balancer would. */
  const client = async (endpoint: '/token' | '/jwt' = '/token', via?: string, seen?: (headers: Headers, url: string) => void) => {
    const config = new oidc.Configuration(
      { issuer: `${gw}/credential`, token_endpoint: `${gw}/credential${endpoint}`, introspection_endpoint: `${gw}/credential/introspect` },
      'bound-app',
      SECRET,
    );
    oidc.allowInsecureRequests(config);
    config[oidc.customFetch] = (url, options) => {
      seen?.(new Headers(options.headers), url);
      return fetch(via ? url.replace(gw, via) : url, options as RequestInit);
    };
    return config;
  };
  const callApi = (config: oidc.Configuration, token: string, dpop: oidc.DPoPHandle | undefined, path = '/orders/1') =>
    oidc.fetchProtectedResource(config, token, new URL(`${gw}${path}`), 'GET', undefined, undefined, dpop && { DPoP: dpop });
  const raw = async (base: string, path: string, headers: Record<string, string>) => {
    const res = await fetch(base + path, { headers });
    return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body: (await res.json().catch(() => undefined)) as Record<string, any> | undefined };
  };

  beforeAll(async () => {
    pki = await TestPki.create();
    serverCa = await pki.issue('server-ca', { subject: '/CN=Bound Test Server CA', ca: true });
    const server = await pki.issue('server', { subject: '/CN=127.0.0.1', issuer: serverCa, altName: 'IP:127.0.0.1' });
    clientCert = await pki.issue('client', { subject: '/CN=bound-app' });
    otherCert = await pki.issue('other', { subject: '/CN=bound-app' });
    const tlsPorts = [await freePort(), await freePort()];
    cluster = await startCluster({
      environment: ENV,
      managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' },
      gateways: tlsPorts.map((port) => ({ GATEWAY_TLS_PORT: String(port), GATEWAY_TLS_CERT: server.certFile, GATEWAY_TLS_KEY: server.keyFile, TOKEN_DPOP_NONCE_REQUIRED: 'true' })),
    });
    tls = tlsPorts.map((p) => `https://127.0.0.1:${p}`);
    const { admin, echoUrl, gateways } = cluster;
    [gw, gwB] = gateways.map((g) => g.baseUrl);
    const env = await admin.environments.named(ENV);
    await admin.signingKeys.create(env.id, { algorithm: 'ES256' });
    const projectId = (await admin.projects.create({ name: 'bound' })).id;
    for (const [name, basePath, type, config] of [
      ['orders', '/orders', 'jwt-auth', {}],
      ['ledger', '/ledger', 'oauth2-auth', {}],
      ['vault', '/vault', 'jwt-auth', { dpop: { requireNonce: true, algorithms: ['ES256', 'EdDSA'] } }],
    ] as const) {
      await admin.proxies.create(projectId, { name, basePath, upstreamUrl: echoUrl, environments: [ENV], policies: [{ type, config }] });
    }
    appId = (await admin.credentials.create(projectId, { username: 'bound-app', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.create(projectId, { username: 'alice', password: 'alice-password', issueApiKey: false });
    await admin.credentials.putTokenSettings(projectId, appId, {
      grants: ['client_credentials', 'password', 'refresh_token'],
      refreshAllowed: true,
      scopes: ['read'],
      accessTokenLifetime: { amount: 5, unit: 'minutes' },
    });
    await Promise.all(
      [gw, gwB].map((base) =>
        eventually(
          () =>
            fetch(`${base}/credential/token`, {
              method: 'POST',
              headers: { authorization: basic('bound-app', SECRET), 'content-type': 'application/x-www-form-urlencoded' },
              body: 'grant_type=client_credentials',
            }),
          (r) => r.status === 200,
          { what: `${base}: token settings served`, timeoutMs: 30000 },
        ),
      ),
    );
    await Promise.all(
      [gw, gwB].map((base) =>
        eventually(
          () => fetch(`${base}/credential/.well-known/jwks.json`).then((r) => r.json()),
          (j) => j.keys?.length > 0,
          { what: `${base} JWKS` },
        ),
      ),
    );
  }, 180000);

  afterAll(async () => {
    await cluster?.stop();
    await pki?.remove();
  }, 30000);

  it('advertises DPoP and certificate binding in its metadata', async () => {
    const meta = await fetch(`${gw}/credential/.well-known/oauth-authorization-server`).then((r) => r.json());
    expect(meta.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'PS256']));
    expect(meta.tls_client_certificate_bound_access_tokens).toBe(true);
  });

  it('openid-client obtains a DPoP-bound JWT (after the nonce dance) that works on both Gateways, and only with a proof by its key', async () => {
    const config = await client('/jwt');
    const keyPair = await oidc.randomDPoPKeyPair('ES256');
    const dpop = oidc.getDPoPHandle(config, keyPair);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: dpop });
    expect(tokens.token_type).toBe('dpop');
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey), 'sha256');
    expect(decode(tokens.access_token).cnf).toEqual({ jkt });

    const a = await callApi(config, tokens.access_token, dpop);
    expect(a.status).toBe(200);
    const echoed = (await a.json()) as { headers: Record<string, string> };
    expect(echoed.headers['x-authenticated-userid']).toBe('bound-app');
    expect(echoed.headers.dpop).toBeUndefined();
    expect(echoed.headers.authorization).toBeUndefined();
    // The second Gateway behind the same public URL (proofs name the public URL).
    const viaB = await client('/jwt', gwB);
    expect((await callApi(viaB, tokens.access_token, dpop)).status).toBe(200);
    // The nonce-requiring proxy: openid-client retries with the DPoP-Nonce the Gateway answers.
    expect((await callApi(config, tokens.access_token, dpop, '/vault/1')).status).toBe(200);

    const asBearer = await raw(gw, '/orders/1', { authorization: `Bearer ${tokens.access_token}` });
    expect(asBearer).toMatchObject({ status: 401, body: { code: 'dpop_proof_required' } });
    expect(asBearer.wwwAuthenticate).toMatch(/^DPoP realm="\/orders", error="invalid_token"/);
    const thief = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    // openid-client surfaces a 401 with a challenge as an error carrying the response.
    const stolen = (await callApi(config, tokens.access_token, thief).catch((err: unknown) => err)) as oidc.WWWAuthenticateChallengeError;
    expect(stolen).toBeInstanceOf(oidc.WWWAuthenticateChallengeError);
    expect(stolen.cause[0]).toMatchObject({ scheme: 'dpop', parameters: { error: 'invalid_dpop_proof' } });
    expect(((await stolen.response.json()) as { code: string }).code).toBe('dpop_key_mismatch');

    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
  }, 90000);

  it('refuses a proof replayed on the other Gateway, and hostile proofs, with reason codes', async () => {
    const proofs: string[] = [];
    const config = await client('/token', undefined, (headers) => {
      const p = headers.get('dpop');
      if (p) proofs.push(p);
    });
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: dpop });
    expect(tokens.token_type).toBe('dpop');
    expect(tokens.access_token).toMatch(/^idm_at_/);
    expect((await callApi(config, tokens.access_token, dpop, '/ledger/1')).status).toBe(200);
    const used = proofs[proofs.length - 1];
    const replayed = await raw(gwB, '/ledger/1', { authorization: `DPoP ${tokens.access_token}`, dpop: used });
    expect(replayed).toMatchObject({ status: 401, body: { code: 'dpop_proof_replayed' } });
    expect(replayed.wwwAuthenticate).toContain('error="invalid_dpop_proof"');

    // Hand-made proofs by the client's key would need it; a key of our own shows every other check.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const ath = createHash('sha256').update(tokens.access_token).digest('base64url');
    const sign = (claims: object, header: object = {}) =>
      new jose.SignJWT({ jti: randomUUID(), htm: 'GET', htu: `${gw}/ledger/1`, iat: Math.floor(Date.now() / 1000), ath, ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...header } as jose.JWTHeaderParameters)
        .sign(privateKey);
    const hostile = async (proof: string) => (await raw(gw, '/ledger/1', { authorization: `DPoP ${tokens.access_token}`, dpop: proof })).body?.code;
    expect(await hostile(await sign({}))).toBe('dpop_key_mismatch');
    expect(await hostile(await sign({ htu: `${gw}/orders/1` }))).toBe('invalid_dpop_proof');
    expect(await hostile(await sign({ htm: 'POST' }))).toBe('invalid_dpop_proof');
    expect(await hostile(await sign({ iat: Math.floor(Date.now() / 1000) - 3600 }))).toBe('invalid_dpop_proof');
    expect(await hostile(await sign({ ath: undefined }))).toBe('invalid_dpop_proof');
    expect(await hostile(await sign({ pad: 'x'.repeat(9000) }))).toBe('invalid_dpop_proof');
    const unsecured = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ jti: 'n', htm: 'GET', htu: `${gw}/ledger/1`, iat: Math.floor(Date.now() / 1000), ath })).toString('base64url')}.`;
    expect(await hostile(unsecured)).toBe('invalid_dpop_proof');
    expect(
      await hostile(
        await new jose.SignJWT({ jti: 'h', htm: 'GET', htu: `${gw}/ledger/1`, iat: Math.floor(Date.now() / 1000), ath })
          .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt' })
          .sign(Buffer.alloc(32, 1)),
      ),
    ).toBe('invalid_dpop_proof');
    expect((await raw(gw, '/ledger/1', { authorization: `Bearer ${tokens.access_token}` })).body?.code).toBe('dpop_proof_required');

    // At the token endpoint: a proof for another URL, and one used before.
    const tokenCall = (proof: string) =>
      fetch(`${gw}/credential/token`, {
        method: 'POST',
        headers: { authorization: basic('bound-app', SECRET), 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
        body: 'grant_type=client_credentials',
      }).then(async (r) => ({ status: r.status, nonce: r.headers.get('dpop-nonce'), body: (await r.json()) as Record<string, string> }));
    const { nonce } = await tokenCall('x');
    expect(nonce).toBeTruthy();
    expect((await tokenCall(await sign({ htm: 'POST', htu: `${gw}/credential/token`, ath: undefined }))).body.error).toBe('use_dpop_nonce');
    expect((await tokenCall(await sign({ htm: 'POST', htu: `${gw}/credential/jwt`, ath: undefined, nonce }))).body.error).toBe('invalid_dpop_proof');
    const good = await sign({ htm: 'POST', htu: `${gw}/credential/token`, ath: undefined, nonce });
    expect(await tokenCall(good)).toMatchObject({ status: 200, body: { token_type: 'DPoP' } });
    expect(await tokenCall(good)).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
  }, 90000);

  it('binds refresh tokens: only a proof by the same key refreshes them', async () => {
    const config = await client('/token');
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const first = await oidc.genericGrantRequest(config, 'password', { username: 'alice', password: 'alice-password', scope: 'read' }, { DPoP: dpop });
    expect(first.refresh_token).toMatch(/^idm_rt_/);
    await expect(oidc.refreshTokenGrant(config, first.refresh_token!, {}, { DPoP: oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256')) })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await expect(oidc.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Refused attempts left it unused: its holder refreshes, and the new access token is bound to the same key.
    const second = await oidc.refreshTokenGrant(config, first.refresh_token!, {}, { DPoP: dpop });
    expect(second.token_type).toBe('dpop');
    expect((await callApi(config, second.access_token, dpop, '/ledger/1')).status).toBe(200);
    expect((await raw(gw, '/ledger/1', { authorization: `Bearer ${second.access_token}` })).body?.code).toBe('dpop_proof_required');
  }, 90000);

  it('issues certificate-bound tokens over the mTLS listener (curl --cert) that work only with that certificate', async () => {
    const x5t = createHash('sha256').update(new X509Certificate(clientCert.cert).raw).digest('base64url');
    const issued = await curl([...withCert(clientCert), '-u', `bound-app:${SECRET}`, '-d', 'grant_type=client_credentials', `${tls[0]}/credential/jwt`]);
    expect(issued.status).toBe(200);
    expect(issued.body.token_type).toBe('Bearer');
    const jwt = issued.body.access_token as string;
    expect(decode(jwt).cnf).toEqual({ 'x5t#S256': x5t });
    const opaque = await curl([...withCert(clientCert), '-u', `bound-app:${SECRET}`, '-d', 'grant_type=client_credentials', `${tls[1]}/credential/token`]);
    expect(opaque.status).toBe(200);
    for (const [path, token] of [
      ['/orders/1', jwt],
      ['/ledger/1', opaque.body.access_token as string],
    ]) {
      for (const base of tls) {
        const ok = await curl([...withCert(clientCert), '-H', `authorization: Bearer ${token}`, `${base}${path}`]);
        expect(ok.status).toBe(200);
        const other = await curl([...withCert(otherCert), '-H', `authorization: Bearer ${token}`, `${base}${path}`]);
        expect(other).toMatchObject({ status: 401, body: { code: 'certificate_binding_mismatch' } });
        const none = await curl(['-H', `authorization: Bearer ${token}`, `${base}${path}`]);
        expect(none).toMatchObject({ status: 401, body: { code: 'certificate_binding_mismatch' } });
      }
      expect((await raw(gw, path, { authorization: `Bearer ${token}` })).body?.code).toBe('certificate_binding_mismatch');
    }
    const introspected = await curl(['-u', `bound-app:${SECRET}`, '-d', `token=${opaque.body.access_token}`, `${tls[0]}/credential/introspect`]);
    expect(introspected.body).toMatchObject({ active: true, token_type: 'Bearer', cnf: { 'x5t#S256': x5t } });
    // Without a certificate the same client gets plain bearer tokens.
    const plain = await curl(['-u', `bound-app:${SECRET}`, '-d', 'grant_type=client_credentials', `${tls[0]}/credential/jwt`]);
    expect(decode(plain.body.access_token).cnf).toBeUndefined();
    expect((await raw(gw, '/orders/1', { authorization: `Bearer ${plain.body.access_token}` })).status).toBe(200);
  }, 90000);

  it("holds a key manager's tokens to their binding: certificate-bound accepted over the mTLS listener only with that certificate (curl --cert), DPoP-bound only with the server nonce where the proxy requires one", async () => {
    const { admin, echoUrl } = cluster;
    // A partner issuer of our own making: ES256 tokens, its JWKS served here (loopback is allowed to this cluster).
    const partnerKey = await jose.generateKeyPair('ES256');
    const jwk = { ...(await jose.exportJWK(partnerKey.publicKey)), kid: 'partner-1', alg: 'ES256', use: 'sig' };
    const jwks = await listenOnLoopback(createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }))));
    try {
      const PARTNER = 'https://partner-idp.example.com/';
      const km = await admin.call('POST', '/api/v1/key-managers', { name: 'partner-idp', issuer: PARTNER, jwksUri: `${jwks.url}/jwks`, algorithms: ['ES256'] });
      const projectId = (await admin.projects.create({ name: 'partner-bound' })).id;
      for (const [name, basePath, dpop] of [
        ['partner-api', '/partner', {}],
        ['partner-vault', '/partner-vault', { requireNonce: true }],
      ] as const)
        await admin.proxies.create(projectId, {
          name,
          basePath,
          upstreamUrl: echoUrl,
          environments: [ENV],
          policies: [{ type: 'jwt-auth', config: { keyManagers: [km.id], dpop } }],
        });
      const partnerToken = (cnf: Record<string, string>) =>
        new jose.SignJWT({ scope: 'read', cnf })
          .setProtectedHeader({ alg: 'ES256', kid: 'partner-1' })
          .setIssuer(PARTNER)
          .setSubject('partner-client')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(partnerKey.privateKey);

      // RFC 8705: cnf.x5t#S256 of the client certificate; the mTLS listener of either Gateway accepts it with that certificate only.
      const x5t = createHash('sha256').update(new X509Certificate(clientCert.cert).raw).digest('base64url');
      const certBound = await partnerToken({ 'x5t#S256': x5t });
      const bearer = ['-H', `authorization: Bearer ${certBound}`];
      const accepted = await eventually(
        () => curl([...withCert(clientCert), ...bearer, `${tls[0]}/partner/1`]),
        (r) => r.status === 200,
        { what: 'the partner proxy deployed', timeoutMs: 60_000 },
      );
      expect(accepted.body.headers).toMatchObject({ 'x-authenticated-issuer': 'partner-idp', 'x-authenticated-userid': 'partner-client' });
      for (const base of tls) {
        expect((await curl([...withCert(clientCert), ...bearer, `${base}/partner/1`])).status).toBe(200);
        expect(await curl([...withCert(otherCert), ...bearer, `${base}/partner/1`])).toMatchObject({ status: 401, body: { code: 'certificate_binding_mismatch' } });
        expect(await curl([...bearer, `${base}/partner/1`])).toMatchObject({ status: 401, body: { code: 'certificate_binding_mismatch' } });
      }
      expect((await raw(gw, '/partner/1', { authorization: `Bearer ${certBound}` })).body?.code).toBe('certificate_binding_mismatch');

      // RFC 9449 §8/§9: a resource that requires a nonce answers use_dpop_nonce with a DPoP-Nonce, and takes the proof that carries it.
      const keyPair = await oidc.randomDPoPKeyPair('ES256');
      const publicJwk = await jose.exportJWK(keyPair.publicKey);
      const dpopBound = await partnerToken({ jkt: await jose.calculateJwkThumbprint(publicJwk, 'sha256') });
      const proof = (path: string, nonce?: string) =>
        new jose.SignJWT({ htm: 'GET', htu: `${gw}${path}`, jti: randomUUID(), ath: createHash('sha256').update(dpopBound).digest('base64url'), ...(nonce ? { nonce } : {}) })
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicJwk })
          .setIssuedAt()
          .sign(keyPair.privateKey);
      const withProof = async (path: string, nonce?: string) => {
        const res = await fetch(gw + path, { headers: { authorization: `DPoP ${dpopBound}`, dpop: await proof(path, nonce) } });
        return { status: res.status, nonce: res.headers.get('dpop-nonce'), wwwAuthenticate: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, any> };
      };
      expect((await withProof('/partner/1')).status).toBe(200); // this proxy asks for no nonce
      const challenged = await withProof('/partner-vault/1');
      expect(challenged).toMatchObject({ status: 401, body: { code: 'use_dpop_nonce' } });
      expect(challenged.wwwAuthenticate).toMatch(/^DPoP .*error="use_dpop_nonce"/);
      expect(challenged.nonce).toEqual(expect.any(String));
      expect(await withProof('/partner-vault/1', 'made-up-nonce')).toMatchObject({ status: 401, body: { code: 'use_dpop_nonce' } });
      expect((await withProof('/partner-vault/1', challenged.nonce!)).status).toBe(200);
      // The same on the other Gateway (one nonce key per installation), and openid-client does the dance by itself.
      const viaB = await fetch(`${gwB}/partner-vault/1`, { headers: { authorization: `DPoP ${dpopBound}`, dpop: await proof('/partner-vault/1', challenged.nonce!) } });
      expect(viaB.status).toBe(200);
      const config = await client();
      expect((await callApi(config, dpopBound, oidc.getDPoPHandle(config, keyPair), '/partner-vault/2')).status).toBe(200);
      expect((await raw(gw, '/partner-vault/1', { authorization: `Bearer ${dpopBound}` })).body?.code).toBe('dpop_proof_required');
    } finally {
      await jwks.close();
    }
  }, 120000);
});
