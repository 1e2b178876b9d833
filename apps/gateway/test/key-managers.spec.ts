import type { SnapshotKeyManager } from '@idm/config-bus';
import { UpstreamPolicy } from '@idm/domain';
import { box, configSnapshot, createEchoServer, eventually, listenOnLoopback, snapshotKeyManager, snapshotProxy, type RunningServer } from '@idm/test-kit';
import Redis from 'ioredis';
import { DpopNonces, DpopReplayCache, accessTokenHash } from '@idm/tokens';
import * as jose from 'jose';
import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import pino from 'pino';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import type { ExternalIssuer } from '../src/issuers/external-issuer';
import { GatewayKeyManagers } from '../src/issuers/gateway-key-managers';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { ExternalIssuerProcess } from './support/external-issuer.process';

/**
 * Third-party tokens through key managers, against real issuers: three oidc-provider processes
 * (RS256 with JWT and opaque tokens, ES256, EdDSA), two Gateways in process (real proxy handler,
 * real undici JWKS/introspection calls, one real Redis shared for the introspection cache).
 */
const LOOPBACK_ALLOWED = new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] });
const UNKNOWN_KID_INTERVAL_MS = 600;

interface TestGateway {
  url: string;
  keyManagers: GatewayKeyManagers;
  close(): Promise<void>;
}

describe('key managers: third-party JWT and opaque tokens at the Gateway (oidc-provider)', () => {
  const rs = new ExternalIssuerProcess('RS256');
  const es = new ExternalIssuerProcess('ES256');
  const ed = new ExternalIssuerProcess('EdDSA');
  const ids = { rs: randomUUID(), es: randomUUID(), ed: randomUUID(), hs: randomUUID(), builtin: randomUUID() };
  const HS_SECRET = randomBytes(32).toString('base64url');
  const HS_ISSUER = 'https://hs.issuer.test';
  let redis: Redis;
  let echo: RunningServer;
  let a: TestGateway;
  let b: TestGateway;
  let keyManagerEntries: SnapshotKeyManager[];
  /** What the Gateways reported about the issuers' endpoints (shown when a test fails). */
  const issuerErrors: string[] = [];
  const dpopPrefix = `idm:test:km-dpop:${randomBytes(6).toString('hex')}`;

  async function startGateway(keyManagers: SnapshotKeyManager[], outbound = LOOPBACK_ALLOWED): Promise<TestGateway> {
    const metrics = new GatewayMetrics();
    const pools = new UpstreamPools({ connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, keepAliveTimeoutMs: 1000, connections: 16 }, LOOPBACK_ALLOWED);
    const runtimes = new GatewayKeyManagers({
      redis,
      secrets: box,
      upstreamPolicy: outbound,
      onError: (km, err) => issuerErrors.push(`${km}: ${err.message}`),
      jwks: { unknownKidIntervalMs: UNKNOWN_KID_INTERVAL_MS, retryAfterErrorMs: 100 },
      http: { timeoutMs: 1000 },
    });
    // Both Gateways share the DPoP replay cache, as an installation's Gateways do.
    const senderConstraint = { replay: new DpopReplayCache(redis, `{${dpopPrefix}}`), nonces: new DpopNonces(randomBytes(32)) };
    const active = new ActiveConfiguration(pools, metrics, { keyManagers: runtimes, senderConstraint });
    const proxy = (id: string, type: string, config: Record<string, unknown>) =>
      snapshotProxy({ id, upstreamUrl: echo.url, policies: [{ type, config: { keyManagers: [ids.rs, ids.es, ids.ed, ids.hs], ...config } }] });
    active.activate(
      configSnapshot({
        environment: 'km-test',
        keyManagers,
        proxies: [
          proxy('all', 'jwt-auth', { required: { scopes: ['read'], roles: [] } }),
          proxy('only-es', 'jwt-auth', { keyManagers: [ids.es] }),
          proxy('admin', 'jwt-auth', { required: { scopes: ['admin'], roles: [] } }),
          proxy('opaque', 'oauth2-auth', { keyManagers: [ids.rs] }),
        ],
      }),
    );
    const handler = new ProxyRequestHandler(active, metrics, { trustProxy: false, bodyLimit: 64 * 1024 }, pino({ level: 'silent' }));
    const http = new GatewayHttpServer();
    const server = http.serverFactory((_req, res) => res.end('nest'));
    http.attach(handler.handle, (_req, res) => res.end('tokens'));
    const running = await listenOnLoopback(server);
    return {
      url: running.url,
      keyManagers: runtimes,
      close: async () => {
        await running.close();
        await pools.closeAll();
        await runtimes.close();
      },
    };
  }

  const call = async (gateway: TestGateway, path: string, token?: string) => {
    const res = await fetch(gateway.url + path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text, challenge: res.headers.get('www-authenticate') };
  };
  const issuerCalls = (gateway: TestGateway, id: string) => (gateway.keyManagers.issuerOf(id) as ExternalIssuer).calls;
  /** A token with its header replaced (signature left as it was). */
  const withHeader = (token: string, header: Record<string, unknown>) => [Buffer.from(JSON.stringify(header)).toString('base64url'), ...token.split('.').slice(1)].join('.');
  const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;

  beforeAll(async () => {
    await Promise.all([rs.start(), es.start(), ed.start()]);
    redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    echo = await listenOnLoopback(createEchoServer());
    const keyManagers = [
      snapshotKeyManager({
        id: ids.rs,
        name: 'keycloak-like',
        issuer: rs.issuer,
        discoveryUrl: `${rs.issuer}/.well-known/openid-configuration`,
        tokenTypes: 'both',
        clientId: 'gateway',
        clientSecret: box.seal('gateway-secret-0123456789'),
        audiences: ['urn:api:jwt', 'urn:api:opaque'],
        claimMappings: { userId: 'sub', username: 'client_id', roles: 'roles', scopes: 'scope', headers: { jti: 'x-token-id' } },
      }),
      snapshotKeyManager({ id: ids.es, name: 'es-issuer', issuer: es.issuer, jwksUri: `${es.issuer}/jwks`, algorithms: ['ES256'] }),
      snapshotKeyManager({ id: ids.ed, name: 'ed-issuer', issuer: ed.issuer, jwksUri: `${ed.issuer}/jwks`, algorithms: ['EdDSA'] }),
      snapshotKeyManager({ id: ids.hs, name: 'hs-issuer', issuer: HS_ISSUER, algorithms: ['HS256'], sharedSecret: box.seal(HS_SECRET) }),
    ];
    keyManagerEntries = keyManagers;
    a = await startGateway(keyManagers);
    b = await startGateway(keyManagers);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await echo?.close();
    for (const pattern of [...Object.values(ids).map((id) => `idm:introspection:{${id}}:*`), `*${dpopPrefix}*`]) {
      const keys = await redis.keys(pattern);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis?.disconnect();
    for (const issuer of [rs, es, ed]) issuer.stop();
  });

  it('accepts JWTs of the listed key managers (RS256 via discovery, ES256, EdDSA, HS256 with its shared secret) and forwards the mapped identity', async () => {
    const token = await rs.token('urn:api:jwt');
    const res = await call(a, '/all/x', token);
    expect(res.status).toBe(200);
    expect(res.body.headers).toMatchObject({ 'x-authenticated-userid': 'gateway', 'x-authenticated-issuer': 'keycloak-like', 'x-token-id': expect.any(String) });
    expect(res.body.headers.authorization).toBeUndefined(); // stripped, as for our own tokens
    expect((await call(a, '/all/x', await es.token('urn:api:jwt'))).status).toBe(200);
    expect((await call(a, '/all/x', await ed.token('urn:api:jwt'))).status).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    const signingInput = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: HS_ISSUER, sub: 'hs-user', scope: 'read', exp: now + 60 })).toString('base64url')}`;
    const hs = `${signingInput}.${createHmac('sha256', HS_SECRET).update(signingInput).digest('base64url')}`;
    expect((await call(a, '/all/x', hs)).status).toBe(200);
    expect((await call(a, '/all/x', `${signingInput}.${createHmac('sha256', 'not-the-secret').update(signingInput).digest('base64url')}`)).body.code).toBe('invalid_token');
  });

  it('refuses a valid token whose issuer the proxy does not list: 401 issuer_not_allowed', async () => {
    const res = await call(a, '/only-es/x', await rs.token('urn:api:jwt'));
    expect(res).toMatchObject({ status: 401, body: { code: 'issuer_not_allowed' } });
    expect(res.challenge).toContain('error="invalid_token"');
    expect((await call(a, '/only-es/x', await es.token('urn:api:jwt'))).status).toBe(200);
  });

  it('answers every other rejection with its code', async () => {
    const token = await rs.token('urn:api:jwt');
    expect((await call(a, '/all/x')).body.code).toBe('missing_token');
    expect((await call(a, '/admin/x', token)).body.code).toBe('insufficient_scope');
    const [h, p, s] = token.split('.');
    const tampered = [h, Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someone-else' })).toString('base64url'), s].join('.');
    expect((await call(a, '/all/x', tampered)).body.code).toBe('invalid_token');
    // `none`, and HS256 with the RSA public key as secret: refused before any cryptography.
    expect((await call(a, '/all/x', `${withHeader(token, { alg: 'none' }).split('.').slice(0, 2).join('.')}.`)).body.code).toBe('invalid_token');
    expect((await call(a, '/all/x', withHeader(token, { ...headerOf(token), alg: 'HS256' }))).body.code).toBe('invalid_token');
    // An ES256 key manager's algorithm list does not cover RS256 tokens naming its issuer.
    const esToken = await es.token('urn:api:jwt');
    expect((await call(a, '/all/x', withHeader(esToken, { ...headerOf(esToken), alg: 'RS256' }))).body.code).toBe('invalid_token');
    // Audience: the RS key manager accepts only urn:api:*; a token of an unknown issuer is not ours either.
    expect((await call(a, '/all/x', 'not-a-token')).body.code).toBe('invalid_token');
  });

  it('introspects opaque tokens (RFC 7662): cached in Redis for every Gateway, concurrent lookups coalesced, inactive ones refused', async () => {
    const before = issuerCalls(a, ids.rs).introspections;
    const opaque = await rs.token('urn:api:opaque');
    expect(opaque.split('.')).toHaveLength(1);
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(a, '/opaque/x', opaque)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(answers[0].body.headers['x-authenticated-issuer']).toBe('keycloak-like');
    expect(issuerCalls(a, ids.rs).introspections - before).toBe(1);
    // The second Gateway finds the answer in Redis: no call of its own.
    const bBefore = issuerCalls(b, ids.rs).introspections;
    expect((await call(b, '/opaque/x', opaque)).status).toBe(200);
    expect(issuerCalls(b, ids.rs).introspections - bBefore).toBe(0);
    // Unknown to the issuer: inactive, refused, and the negative answer is cached too.
    const unknown = randomBytes(32).toString('base64url');
    expect((await call(a, '/opaque/x', unknown)).body.code).toBe('invalid_token');
    const afterUnknown = issuerCalls(b, ids.rs).introspections;
    expect((await call(b, '/opaque/x', unknown)).body.code).toBe('invalid_token');
    expect(issuerCalls(b, ids.rs).introspections - afterUnknown).toBe(0);
    // The JWT of the same key manager is checked locally on the oauth2-auth proxy too.
    expect((await call(a, '/opaque/x', await rs.token('urn:api:jwt'))).status).toBe(200);
  });

  it('follows a key rotation mid-test: the new kid is fetched once, tokens of the old key keep working', async () => {
    const old = await rs.token('urn:api:jwt');
    expect((await call(a, '/all/x', old)).status).toBe(200);
    await rs.command('rotate');
    const rotated = await rs.token('urn:api:jwt');
    expect(headerOf(rotated).kid).not.toBe(headerOf(old).kid);
    await new Promise((resolve) => setTimeout(resolve, UNKNOWN_KID_INTERVAL_MS + 50)); // the last fetch was just now
    const before = issuerCalls(a, ids.rs).jwksFetches;
    expect((await call(a, '/all/x', rotated)).status).toBe(200);
    expect(issuerCalls(a, ids.rs).jwksFetches - before).toBe(1);
    expect((await call(a, '/all/x', old)).status).toBe(200);
  });

  it('bounds JWKS fetches under a flood of unknown kids (at most one per interval) and fails them closed', async () => {
    const token = await es.token('urn:api:jwt');
    await new Promise((resolve) => setTimeout(resolve, UNKNOWN_KID_INTERVAL_MS + 50));
    const before = issuerCalls(b, ids.es).jwksFetches;
    const started = Date.now();
    const floods = await Promise.all(Array.from({ length: 200 }, () => call(b, '/all/x', withHeader(token, { ...headerOf(token), kid: randomUUID() }))));
    const elapsed = Date.now() - started;
    expect(new Set(floods.map((r) => r.body.code))).toEqual(new Set(['invalid_token']));
    expect(issuerCalls(b, ids.es).jwksFetches - before).toBeLessThanOrEqual(1 + Math.ceil(elapsed / UNKNOWN_KID_INTERVAL_MS));
    expect((await call(b, '/all/x', token)).status).toBe(200);
  });

  it('keeps serving while the issuer is down: cached keys verify, unknown kids fail closed, uncached opaque tokens get 503 issuer_unavailable', async () => {
    const fresh = await rs.token('urn:api:jwt'); // never presented: verified with the cached (rotated) key
    const opaque = await rs.token('urn:api:opaque'); // never introspected
    const seenOpaque = await rs.token('urn:api:opaque');
    expect((await call(a, '/opaque/x', seenOpaque)).status).toBe(200);
    await rs.command('down');
    try {
      expect((await call(a, '/all/x', fresh)).status).toBe(200); // Gateway A holds the rotated key (B never needed it)
      expect((await call(b, '/all/x', withHeader(fresh, { ...headerOf(fresh), kid: 'never-published' }))).body.code).toBe('invalid_token');
      expect((await call(b, '/opaque/x', seenOpaque)).status).toBe(200); // from the shared cache
      expect(await call(a, '/opaque/x', opaque)).toMatchObject({ status: 503, body: { code: 'issuer_unavailable' } });
      expect(issuerErrors.some((e) => e.startsWith('keycloak-like:') && e.includes('ECONNREFUSED'))).toBe(true); // reported for the log
    } finally {
      await rs.command('up');
    }
    await eventually(
      async () => (await call(a, '/opaque/x', opaque)).status,
      (status) => status === 200,
      { what: 'introspection to work again once the issuer is back' },
    );
  });

  it('holds key manager endpoints to the upstream address policy: no loopback issuer unless the operator allowed it', async () => {
    // The Gateway's default (UPSTREAM_ALLOW unset, UPSTREAM_ALLOW_INTERNAL=false): loopback is refused for discovery, JWKS and introspection.
    const strict = await startGateway(keyManagerEntries, new UpstreamPolicy({ allowInternal: false, allow: [], deny: [], ownEndpoints: [] }));
    try {
      const reported = issuerErrors.length;
      expect((await call(strict, '/all/x', await rs.token('urn:api:jwt'))).body.code).toBe('invalid_token'); // discovery refused: no key, fail closed
      expect((await call(strict, '/all/x', await es.token('urn:api:jwt'))).body.code).toBe('invalid_token'); // explicit jwksUri refused
      expect(await call(strict, '/opaque/x', await rs.token('urn:api:opaque'))).toMatchObject({ status: 503, body: { code: 'issuer_unavailable' } });
      const refusals = issuerErrors.slice(reported);
      expect(refusals.some((e) => e.startsWith('keycloak-like:') && e.includes('loopback'))).toBe(true);
      expect(refusals.some((e) => e.startsWith('es-issuer:') && e.includes('loopback'))).toBe(true);
      // The HS256 key manager needs no endpoint: its tokens still verify.
      const now = Math.floor(Date.now() / 1000);
      const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: HS_ISSUER, sub: 'u', scope: 'read', exp: now + 60 })).toString('base64url')}`;
      expect((await call(strict, '/all/x', `${input}.${createHmac('sha256', HS_SECRET).update(input).digest('base64url')}`)).status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it("applies a key manager's own timing settings: a response size limit below the discovery document refuses it", async () => {
    const tight = await startGateway(keyManagerEntries.map((k) => (k.id === ids.rs ? { ...k, timing: { maxResponseBytes: 1024, retryAfterErrorSeconds: 1 } } : k)));
    try {
      const reported = issuerErrors.length;
      expect((await call(tight, '/all/x', await rs.token('urn:api:jwt'))).body.code).toBe('invalid_token');
      expect(issuerErrors.slice(reported).some((e) => e.startsWith('keycloak-like:') && e.includes('more than 1024 bytes'))).toBe(true);
      // The other key managers keep the host's limits.
      expect((await call(tight, '/all/x', await es.token('urn:api:jwt'))).status).toBe(200);
    } finally {
      await tight.close();
    }
  });

  describe('sender-constrained third-party tokens (RFC 9449 DPoP from oidc-provider, RFC 8705 certificate binding)', () => {
    const client = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = (k: KeyObject) => k.export({ format: 'jwk' }) as jose.JWK;
    /** A DPoP proof as a client makes it (jose, an implementation independent of ours). */
    const proof = (htm: string, htu: string, { token, key = client, claims = {} }: { token?: string; key?: typeof client; claims?: object } = {}) =>
      new jose.SignJWT({ jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...(token && { ath: accessTokenHash(token) }), ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(key.publicKey) })
        .sign(key.privateKey);
    const boundToken = (resource: 'urn:api:jwt' | 'urn:api:opaque') => rs.token(resource, 'read', (endpoint) => proof('POST', endpoint));
    const present = async (gateway: TestGateway, path: string, token: string, dpop?: string, scheme = 'DPoP') => {
      const res = await fetch(gateway.url + path, { headers: { authorization: `${scheme} ${token}`, ...(dpop !== undefined && { dpop }) } });
      const text = await res.text();
      return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text, challenge: res.headers.get('www-authenticate') };
    };

    it('accepts a DPoP-bound JWT and opaque token of the issuer only with a fresh proof by the bound key', async () => {
      const jwt = await boundToken('urn:api:jwt');
      const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { cnf?: { jkt?: string } };
      expect(claims.cnf?.jkt).toBe(await jose.calculateJwkThumbprint(publicJwk(client.publicKey), 'sha256'));
      const ok = await present(a, '/all/x', jwt, await proof('GET', `${a.url}/all/x`, { token: jwt }));
      expect(ok.status).toBe(200);
      expect(ok.body.headers.dpop).toBeUndefined(); // the proof does not travel upstream
      // Introspection answers carry the binding too (RFC 9449 §6.2): an opaque bound token is held to it the same way.
      const opaque = await boundToken('urn:api:opaque');
      expect((await present(a, '/opaque/x', opaque, await proof('GET', `${a.url}/opaque/x`, { token: opaque }))).status).toBe(200);
      expect((await present(b, '/opaque/x', opaque)).body.code).toBe('dpop_proof_required');
    });

    it('refuses the bound token without its proof, as a Bearer token, with another key, replayed, or for another method or URL', async () => {
      const jwt = await boundToken('urn:api:jwt');
      const url = `${a.url}/all/x`;
      const missing = await present(a, '/all/x', jwt);
      expect(missing).toMatchObject({ status: 401, body: { code: 'dpop_proof_required' } });
      expect(missing.challenge).toMatch(/^DPoP /);
      expect((await present(a, '/all/x', jwt, await proof('GET', url, { token: jwt }), 'Bearer')).body.code).toBe('dpop_proof_required');
      expect((await present(a, '/all/x', jwt, await proof('GET', url, { token: jwt, key: thief }))).body.code).toBe('dpop_key_mismatch');
      expect((await present(a, '/all/x', jwt, await proof('POST', url, { token: jwt }))).body.code).toBe('invalid_dpop_proof');
      expect((await present(a, '/all/x', jwt, await proof('GET', `${a.url}/admin/x`, { token: jwt }))).body.code).toBe('invalid_dpop_proof');
      expect((await present(a, '/all/x', jwt, await proof('GET', url, { token: 'another-token' }))).body.code).toBe('invalid_dpop_proof');
      expect((await present(a, '/all/x', jwt, await proof('GET', url, { token: jwt, claims: { iat: Math.floor(Date.now() / 1000) - 3600 } }))).body.code).toBe(
        'invalid_dpop_proof',
      );
      // Replayed: on the same Gateway (its verdict cache does not skip the proof) and on the other one.
      const once = await proof('GET', url, { token: jwt });
      expect((await present(a, '/all/x', jwt, once)).status).toBe(200);
      expect((await present(a, '/all/x', jwt, once)).body.code).toBe('dpop_proof_replayed');
      const onB = await proof('GET', `${b.url}/all/x`, { token: jwt });
      expect((await present(b, '/all/x', jwt, onB)).status).toBe(200);
      expect((await present(b, '/all/x', jwt, onB)).body.code).toBe('dpop_proof_replayed');
      // An unbound token presented under the DPoP scheme is not a DPoP token.
      const plain = await rs.token('urn:api:jwt');
      expect((await present(a, '/all/x', plain, await proof('GET', url, { token: plain }))).body.code).toBe('invalid_token');
    });

    it('refuses a certificate-bound token (cnf.x5t#S256) on a connection without that certificate', async () => {
      // A real token of a test issuer (the HS256 key manager's shared secret), bound to a certificate thumbprint.
      const now = Math.floor(Date.now() / 1000);
      const x5t = createHash('sha256').update(randomBytes(64)).digest('base64url');
      const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
        JSON.stringify({ iss: HS_ISSUER, sub: 'bound-client', scope: 'read', exp: now + 60, cnf: { 'x5t#S256': x5t } }),
      ).toString('base64url')}`;
      const bound = `${input}.${createHmac('sha256', HS_SECRET).update(input).digest('base64url')}`;
      expect(await call(a, '/all/x', bound)).toMatchObject({ status: 401, body: { code: 'certificate_binding_mismatch' } });
      // The same token unbound passes: the refusal is the binding's.
      const unboundInput = `${input.split('.')[0]}.${Buffer.from(JSON.stringify({ iss: HS_ISSUER, sub: 'bound-client', scope: 'read', exp: now + 60 })).toString('base64url')}`;
      expect((await call(a, '/all/x', `${unboundInput}.${createHmac('sha256', HS_SECRET).update(unboundInput).digest('base64url')}`)).status).toBe(200);
    });
  });
});
