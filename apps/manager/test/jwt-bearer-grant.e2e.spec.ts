import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import * as jose from 'jose';
import { eventually, listenOnLoopback } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';

/**
 * The JWT bearer authorization grant (RFC 7523 §2.1) at `/credential/token` on two Gateways: a
 * client whose token settings trust a key manager exchanges that issuer's signed assertion (jose,
 * its JWKS served on loopback) for an access token about the end user `sub` names (or about the
 * client itself), with the client's scopes. Hostile: wrong aud, expired, future nbf, too long a
 * lifetime, an issuer the client does not trust or nobody does, an unknown kid, alg none, HS256
 * keyed with the public key, a replayed jti (on the other Gateway), a client not allowed the grant,
 * an unknown or locked subject. The Manager refuses the settings for a public client.
 */
describe('JWT bearer grant (RFC 7523) on two Gateways', () => {
  const ENV = 'jwt-bearer';
  const SECRET = 'jwt-bearer-client-secret';
  const PARTNER = 'https://partner-idp.example.com/';
  const OTHER = 'https://other-idp.example.com/';
  let cluster: Cluster;
  let admin: AdminClient;
  let gwA: string;
  let gwB: string;
  let issuer: string;
  let projectId: string;
  let aliceId: string;
  let jwks: { url: string; close(): Promise<void> };
  let partner: jose.GenerateKeyPairResult;
  let stranger: jose.GenerateKeyPairResult;
  let partnerJwk: jose.JWK;

  const basic = (id: string) => `Basic ${Buffer.from(`${id}:${SECRET}`).toString('base64')}`;
  const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, any>;
  const now = () => Math.floor(Date.now() / 1000);
  /** An assertion of the partner IdP for alice, addressed to our token endpoint; `claims` overrides (undefined drops one). */
  const assertion = (claims: Record<string, unknown> = {}, key = partner.privateKey, header: jose.JWTHeaderParameters = { alg: 'ES256', kid: 'p1' }) => {
    const payload = Object.fromEntries(
      Object.entries({ iss: PARTNER, aud: `${issuer}/token`, sub: 'alice', jti: randomUUID(), iat: now(), exp: now() + 120, ...claims }).filter(([, v]) => v !== undefined),
    );
    return new jose.SignJWT(payload).setProtectedHeader(header).sign(key);
  };
  const exchange = async (client: string, jwt: string, gateway = gwA, path = '/token', extra: Record<string, string> = {}) => {
    const res = await fetch(`${gateway}/credential${path}`, {
      method: 'POST',
      headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt, ...extra }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  beforeAll(async () => {
    partner = await jose.generateKeyPair('ES256', { extractable: true });
    stranger = await jose.generateKeyPair('ES256', { extractable: true });
    partnerJwk = { ...(await jose.exportJWK(partner.publicKey)), kid: 'p1', alg: 'ES256', use: 'sig' };
    jwks = await listenOnLoopback(createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [partnerJwk] }))));
    cluster = await startCluster({ environment: ENV, gateways: [{}, {}], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    admin = cluster.admin;
    gwA = cluster.gateways[0].baseUrl;
    gwB = cluster.gateways[1].baseUrl;
    // Both Gateways answer for one public issuer (the first's), as behind a load balancer.
    issuer = `${gwA}/credential`;
    const env = await admin.environments.named(ENV);
    const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
    await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: await jose.exportPKCS8(privateKey) });
    await admin.call('POST', '/api/v1/key-managers', { name: 'partner-idp', issuer: PARTNER, jwksUri: `${jwks.url}/jwks`, algorithms: ['ES256'] });
    await admin.call('POST', '/api/v1/key-managers', { name: 'other-idp', issuer: OTHER, jwksUri: `${jwks.url}/jwks`, algorithms: ['ES256'] });
    projectId = (await admin.projects.create({ name: 'jwt-bearer' })).id;
    await admin.proxies.create(projectId, { name: 'orders', basePath: '/orders', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'jwt-auth', config: {} }] });
    aliceId = (await admin.endUsers.create(projectId, { username: 'alice', password: 'alice-password-1', email: 'alice@example.com' })).id;
    const bobId = (await admin.endUsers.create(projectId, { username: 'bob', password: 'bob-password-1', email: 'bob@example.com' })).id;
    await admin.endUsers.update(projectId, bobId, { locked: true });
    for (const [username, jwtBearer] of [
      ['backend', { keyManagers: ['partner-idp'] }],
      ['robot', { keyManagers: ['partner-idp'], subject: 'client' }],
      ['plain', undefined],
    ] as [string, { keyManagers: string[]; subject?: 'client' } | undefined][]) {
      const id = (await admin.credentials.create(projectId, { username, password: SECRET, issueApiKey: false })).id;
      await admin.credentials.putTokenSettings(projectId, id, { grants: ['client_credentials'], scopes: ['orders:read', 'orders:write'], ...(jwtBearer && { jwtBearer }) });
    }
    for (const gateway of [gwA, gwB])
      await eventually(
        async () => (await exchange('backend', await assertion(), gateway)).status,
        (status) => status === 200,
        { what: `the gateway ${gateway} takes the JWT bearer grant`, timeoutMs: 120_000 },
      );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await jwks?.close();
  }, 60_000);

  it('lists the grant in discovery and the token service metadata', async () => {
    for (const path of ['/credential/.well-known/openid-configuration', '/credential/.well-known/oauth-authorization-server']) {
      const metadata = (await (await fetch(gwA + path)).json()) as { grant_types_supported: string[] };
      expect(metadata.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:jwt-bearer');
    }
  });

  it("exchanges a trusted issuer's assertion for a token about the end user sub names, with the client's scopes, on either Gateway", async () => {
    const viaB = await exchange('backend', await assertion(), gwB, '/jwt', { scope: 'orders:read' });
    expect(viaB).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'orders:read' } });
    const claims = decode(viaB.body.access_token);
    expect(claims).toMatchObject({ iss: issuer, sub: aliceId, scope: 'orders:read' });
    expect(viaB.body.refresh_token).toBeUndefined();
    // The token opens the project's jwt-auth proxy.
    expect((await fetch(`${gwA}/orders/1`, { headers: { authorization: `Bearer ${viaB.body.access_token}` } })).status).toBe(200);
    // An aud naming the issuer (not the endpoint) is accepted too (RFC 7523 §3).
    expect(await exchange('backend', await assertion({ aud: [issuer, 'https://someone-else.example'] }))).toMatchObject({ status: 200 });
    // A client whose settings take the token as its own.
    const own = await exchange('robot', await assertion({ sub: 'not-a-user' }), gwA, '/jwt');
    expect(own.status).toBe(200);
    expect(decode(own.body.access_token)).toMatchObject({ scope: 'orders:read orders:write' });
    expect(decode(own.body.access_token).sub).not.toBe(aliceId);
  });

  it('accepts a jti once across both Gateways', async () => {
    const jwt = await assertion();
    expect((await exchange('backend', jwt, gwA)).status).toBe(200);
    expect(await exchange('backend', jwt, gwB)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringContaining('already used') } });
    expect(await exchange('backend', jwt, gwA)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('refuses hostile assertions with 400 invalid_grant', async () => {
    const forged = async (header: Record<string, unknown>, signature: string) => {
      const body = Buffer.from(JSON.stringify({ iss: PARTNER, aud: `${issuer}/token`, sub: 'alice', jti: randomUUID(), iat: now(), exp: now() + 120 })).toString('base64url');
      const head = Buffer.from(JSON.stringify(header)).toString('base64url');
      return `${head}.${body}.${signature}`;
    };
    const publicKeyPem = Buffer.from(await jose.exportSPKI(partner.publicKey));
    const hsWithPublicKey = await new jose.SignJWT({ iss: PARTNER, aud: `${issuer}/token`, sub: 'alice', jti: randomUUID(), iat: now(), exp: now() + 120 })
      .setProtectedHeader({ alg: 'HS256', kid: 'p1' })
      .sign(publicKeyPem);
    const cases: [string, string][] = [
      ['a wrong aud', await assertion({ aud: 'https://elsewhere.example/token' })],
      ['no aud', await assertion({ aud: undefined })],
      ['an expired assertion', await assertion({ iat: now() - 1200, exp: now() - 600 })],
      ['a future nbf', await assertion({ nbf: now() + 600 })],
      ['a lifetime over the 300 s allowed', await assertion({ exp: now() + 3000 })],
      ['no exp', await assertion({ exp: undefined })],
      ['no sub', await assertion({ sub: undefined })],
      ['no jti', await assertion({ jti: undefined })],
      ['an unknown subject', await assertion({ sub: 'mallory' })],
      ['a locked subject', await assertion({ sub: 'bob' })],
      ['an issuer trusted, but not by this client', await assertion({ iss: OTHER })],
      ['an issuer nobody trusts', await assertion({ iss: 'https://evil.example/' })],
      ['an unknown kid', await assertion({}, stranger.privateKey, { alg: 'ES256', kid: 'p2' })],
      ["another key under the partner's kid", await assertion({}, stranger.privateKey)],
      ['alg none', await forged({ alg: 'none' }, '')],
      ['HS256 keyed with the public key', hsWithPublicKey],
      ['no JWT at all', 'not-a-jwt'],
    ];
    for (const [what, jwt] of cases) {
      const answer = await exchange('backend', jwt);
      expect({ what, status: answer.status, error: answer.body.error }).toEqual({ what, status: 400, error: 'invalid_grant' });
    }
  });

  it('refuses a client not allowed the grant, a missing assertion and an unauthenticated call', async () => {
    expect(await exchange('plain', await assertion())).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
    expect(await exchange('backend', '')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const anonymous = await fetch(`${gwA}/credential/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await assertion(), client_id: 'backend' }).toString(),
    });
    expect(anonymous.status).toBe(401);
  });

  it('refuses jwtBearer settings for a public client and without key managers (400, nothing stored)', async () => {
    const id = (await admin.credentials.create(projectId, { username: `spa-${randomUUID().slice(0, 6)}`, issueApiKey: false })).id;
    for (const settings of [
      {
        grants: ['authorization_code'],
        oidc: { clientType: 'public', tokenEndpointAuthMethod: 'none', redirectUris: ['http://127.0.0.1:7779/cb'] },
        jwtBearer: { keyManagers: ['partner-idp'] },
      },
      { grants: ['client_credentials'], jwtBearer: { keyManagers: [] } },
      { grants: ['client_credentials'], jwtBearer: { keyManagers: ['partner-idp'], maxLifetimeSeconds: 86_400 } },
    ])
      await expect(admin.call('PUT', `/api/v1/projects/${projectId}/credentials/${id}/token-settings`, settings)).rejects.toThrow(/400/);
    expect(await admin.call('GET', `/api/v1/projects/${projectId}/credentials/${id}/token-settings`)).toBeNull();
  });
});
