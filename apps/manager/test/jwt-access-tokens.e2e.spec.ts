import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import Redis from 'ioredis';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { eventually, type AppProcess } from '@idm/test-kit';

/**
 * JWT access tokens across Gateways (issue #11 items 7-9), on a Manager and three Gateway
 * processes: a and b are one fleet behind GATEWAY_PUBLIC_URL (a's URL), c has no public URL
 * (its issuer is the request's own Host) and trusts no proxy. What is proved:
 * - the issuer never comes from a client's X-Forwarded-Host/Proto, and jwt-auth takes exactly
 *   its environment's issuer(s), not any URL ending in /credential;
 * - only `typ: at+jwt` is an access token, for jwt-auth and introspection;
 * - a revoked JWT is refused by every Gateway (jwt-auth, introspection, regeneration) until it
 *   expires, including a Gateway started after the revocation.
 */
describe('JWT access tokens: issuer, type and revocation across Gateways', () => {
  const ENV = 'jwt-tokens';
  const SECRET = 'jwt-app-secret';
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let redis: Redis;
  let signingKey: KeyObject;
  let kid: string;
  let appId: string;
  let otherAppId: string;
  let fleetUrl: string;

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const post = async (base: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form(fields) });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };
  const mint = async (base: string, headers: Record<string, string> = {}, client = appId, secret = SECRET) => {
    const res = await post(base, '/credential/jwt', { grant_type: 'client_credentials' }, { authorization: basic(client, secret), ...headers });
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  };
  const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
  const callProxy = async (base: string, token: string) => (await fetch(`${base}/orders/1`, { headers: { authorization: `Bearer ${token}` } })).status;
  const introspect = async (base: string, token: string, client = appId, secret = SECRET) =>
    (await post(base, '/credential/introspect', { token }, { authorization: basic(client, secret) })).body;
  const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  /** A token signed with the environment's real key (uploaded by this test): only the claims or header are wrong. */
  const forge = (header: Record<string, unknown>, claims: Record<string, unknown>) => {
    const input = `${segment({ alg: 'RS256', kid, ...header })}.${segment(claims)}`;
    return `${input}.${cryptoSign('sha256', Buffer.from(input), signingKey).toString('base64url')}`;
  };
  const claimsOf = (iss: string, over: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss, sub: appId, aud: ['/orders'], iat: now, nbf: now, exp: now + 300, jti: `forged-${Math.random()}`, client_id: appId, ...over };
  };

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}, {}, { GATEWAY_PUBLIC_URL: '' }], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    ({ gateways, admin } = cluster);
    fleetUrl = gateways[0].baseUrl;
    redis = new Redis(cluster.redis.url);
    const env = await admin.environments.named(ENV);
    signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    kid = (await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: signingKey.export({ type: 'pkcs8', format: 'pem' }).toString() })).kid;
    const projectId = (await admin.projects.create({ name: 'jwt-tokens' })).id;
    await admin.proxies.create(projectId, { name: 'orders', basePath: '/orders', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'jwt-auth', config: {} }] });
    const settings = { grants: ['client_credentials' as const], scopes: ['read'], accessTokenLifetime: { amount: 5, unit: 'minutes' as const } };
    for (const name of ['jwt-app', 'other-app']) {
      const id = (await admin.credentials.create(projectId, { username: name, password: SECRET, issueApiKey: false })).id;
      await admin.credentials.putTokenSettings(projectId, id, settings);
      if (name === 'jwt-app') appId = id;
      else otherAppId = id;
    }
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => post(g.baseUrl, '/credential/jwt', { grant_type: 'client_credentials' }, { authorization: basic(otherAppId, SECRET) }),
          (r) => r.status === 200,
          { what: `${g.name} issues JWTs` },
        ),
      ),
    );
  }, 120000);

  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  }, 30000);

  describe('issuer (item 7)', () => {
    const forged = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };

    it('names GATEWAY_PUBLIC_URL in discovery and in minted tokens, whatever X-Forwarded-Host a client sends', async () => {
      for (const g of gateways.slice(0, 2)) {
        const meta = await fetch(`${g.baseUrl}/.well-known/oauth-authorization-server/credential`, { headers: forged }).then((r) => r.json());
        expect(meta).toMatchObject({ issuer: `${fleetUrl}/credential`, token_endpoint: `${fleetUrl}/credential/token`, jwks_uri: `${fleetUrl}/credential/.well-known/jwks.json` });
        expect(payloadOf(await mint(g.baseUrl, forged)).iss).toBe(`${fleetUrl}/credential`);
      }
    });

    it("without a public URL, uses the request's own Host and ignores forwarding headers from an untrusted peer", async () => {
      const c = gateways[2].baseUrl;
      const meta = await fetch(`${c}/credential/.well-known/oauth-authorization-server`, { headers: forged }).then((r) => r.json());
      expect(meta.issuer).toBe(`${c}/credential`);
      expect(payloadOf(await mint(c, forged)).iss).toBe(`${c}/credential`);
    });

    it('jwt-auth accepts exactly its own issuer(s)', async () => {
      const [a, b, c] = gateways.map((g) => g.baseUrl);
      const fleetToken = await mint(b);
      expect([await callProxy(a, fleetToken), await callProxy(b, fleetToken)]).toEqual([200, 200]);
      // c's issuer is its own host: a fleet token (and a token of c at the fleet) is another issuer's.
      expect(await callProxy(c, fleetToken)).toBe(401);
      const cToken = await mint(c);
      expect([await callProxy(c, cToken), await callProxy(a, cToken)]).toEqual([200, 401]);
      // Signed with the environment's key, but naming another host's token service: refused everywhere.
      const foreign = forge({ typ: 'at+jwt' }, claimsOf('https://evil.example/credential'));
      for (const g of [a, b, c]) expect(await callProxy(g, foreign)).toBe(401);
      expect(await callProxy(a, forge({ typ: 'at+jwt' }, claimsOf(`${fleetUrl}/credential`)))).toBe(200);
      expect(await introspect(a, foreign)).toEqual({ active: false });
    });
  });

  describe('token type (item 8)', () => {
    it('refuses a plain JWT or an ID token signed with the environment key, at jwt-auth, introspection and regeneration', async () => {
      const valid = claimsOf(`${fleetUrl}/credential`);
      expect(await callProxy(fleetUrl, forge({ typ: 'at+jwt' }, valid))).toBe(200);
      for (const header of [{ typ: 'JWT' }, {}, { typ: 'id_token+jwt' }]) {
        const token = forge(header, { ...valid, jti: `typ-${JSON.stringify(header)}` });
        expect([header, await callProxy(fleetUrl, token), await callProxy(gateways[1].baseUrl, token)]).toEqual([header, 401, 401]);
        expect(await introspect(fleetUrl, token)).toEqual({ active: false });
        const regenerated = await post(fleetUrl, '/credential/jwt/regenerate', { client_id: appId, client_secret: SECRET }, { authorization: `Bearer ${token}` });
        expect(regenerated).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      }
      const minted = await mint(fleetUrl);
      expect(JSON.parse(Buffer.from(minted.split('.')[0], 'base64url').toString()).typ).toBe('at+jwt');
    });
  });

  describe('revocation (item 9)', () => {
    it('a JWT revoked on one Gateway is refused by the others, by introspection and by regeneration', async () => {
      const [a, b] = gateways.map((g) => g.baseUrl);
      const token = await mint(a);
      const { jti, exp } = payloadOf(token);
      expect([await callProxy(a, token), await callProxy(b, token)]).toEqual([200, 200]);
      expect(await introspect(b, token)).toMatchObject({ active: true, jti });

      // Another client's revocation of it is ignored (RFC 7009 §2.1).
      expect((await post(b, '/credential/revoke', { token }, { authorization: basic(otherAppId, SECRET) })).status).toBe(200);
      expect(await callProxy(b, token)).toBe(200);

      expect((await post(a, '/credential/revoke', { token }, { authorization: basic(appId, SECRET) })).status).toBe(200);
      expect(await callProxy(a, token)).toBe(401);
      await eventually(
        () => callProxy(b, token),
        (s) => s === 401,
        { what: 'gateway b refuses the revoked JWT', timeoutMs: 5000 },
      );
      expect(await introspect(b, token)).toEqual({ active: false });
      expect(await introspect(a, token)).toEqual({ active: false });
      const regenerated = await post(b, '/credential/jwt/regenerate', { client_id: appId, client_secret: SECRET }, { authorization: `Bearer ${token}` });
      expect(regenerated).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      // Other tokens of the same client are untouched.
      expect(await callProxy(b, await mint(a))).toBe(200);
      // Kept in Redis until exp plus the largest clock skew, then gone by itself.
      expect(Number(await redis.zscore(`idm:jwt-revoked:${ENV}`, jti))).toBe(exp + 300);
      expect(await redis.ttl(`idm:jwt-revoked:${ENV}`)).toBeGreaterThan(300);
    }, 30000);

    it('a Gateway started after the revocation refuses the token from its first request', async () => {
      const token = await mint(fleetUrl);
      expect((await post(fleetUrl, '/credential/revoke', { token }, { authorization: basic(appId, SECRET) })).status).toBe(200);
      const b = gateways[1];
      await b.stop();
      await b.start(); // ready only once the revoked list is loaded
      expect(await callProxy(b.baseUrl, token)).toBe(401);
    }, 60000);

    it('answers 200 for revoking garbage, a forged token or an unknown one, and never 500', async () => {
      const auth = { authorization: basic(appId, SECRET) };
      for (const token of [
        'a.b.c',
        'not-a-token',
        forge({ typ: 'at+jwt' }, claimsOf('https://evil.example/credential')),
        forge({ typ: 'at+jwt' }, claimsOf(`${fleetUrl}/credential`, { exp: 1 })),
      ]) {
        expect((await post(fleetUrl, '/credential/revoke', { token }, auth)).status).toBe(200);
      }
    });

    // Last: it restarts the cluster's Redis (no persistence, so the shared list starts empty again).
    it('answers 503 server_error while Redis cannot record a revocation, and records it on the retry', async () => {
      const [a, b] = gateways.map((g) => g.baseUrl);
      const token = await mint(a);
      const auth = { authorization: basic(appId, SECRET) };
      await cluster.redis.stop();
      const refused = await post(a, '/credential/revoke', { token }, auth);
      expect(refused).toMatchObject({ status: 503, body: { error: 'server_error' } });
      expect(await callProxy(a, token)).toBe(401); // the Gateway asked refuses it at once
      await cluster.redis.start();
      const retried = await eventually(
        () => post(a, '/credential/revoke', { token }, auth),
        (r) => r.status === 200,
        { what: 'revocation after Redis is back' },
      );
      expect(retried.status).toBe(200);
      await eventually(
        () => callProxy(b, token),
        (s) => s === 401,
        { what: 'gateway b refuses the token revoked on the retry' },
      );
    }, 60000);
  });
});
