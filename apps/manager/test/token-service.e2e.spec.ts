import { createHash, createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import Redis from 'ioredis';
import * as oidc from 'openid-client';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { eventually, type AppProcess } from '@idm/test-kit';

/**
 * The token service end to end: one Manager and two Gateway processes on a private Redis and
 * PostgreSQL. A real OAuth client (openid-client) discovers `/credential` through RFC 8414,
 * obtains, refreshes, introspects and revokes tokens; the tokens then open `jwt-auth` and
 * `oauth2-auth` proxies on both Gateways, and every forged or stale token is refused with 401.
 */
describe('token service (/credential) with openid-client, a Manager and two Gateways', () => {
  const ENV = 'tokens';
  const SECRET = 'app-client-secret';
  let cluster: Cluster;
  let redisClient: Redis;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let projectId: string;
  let appId: string;
  let aliceId: string;
  let signingKey: KeyObject;
  let kid: string;
  let gw: string;

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const post = async (base: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form(fields) });
    return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
  };
  const callProxy = async (base: string, path: string, token: string) => {
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body: await res.json().catch(() => undefined) };
  };
  const onBoth = (path: string, token: string, status: number, what: string) =>
    Promise.all(
      gateways.map((g) =>
        eventually(
          () => callProxy(g.baseUrl, path, token),
          (r) => r.status === status,
          { what: `${g.name}: ${what}` },
        ),
      ),
    );
  const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const forge = (header: object, payload: object, key: KeyObject = signingKey) => {
    const input = `${segment(header)}.${segment(payload)}`;
    return `${input}.${cryptoSign('sha256', Buffer.from(input), key).toString('base64url')}`;
  };
  const claims = (over: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: `${gw}/credential`, sub: aliceId, aud: ['/orders'], iat: now, nbf: now, exp: now + 300, jti: 'x', client_id: appId, ...over };
  };

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    ({ gateways, admin } = cluster);
    const { echoUrl } = cluster;
    redisClient = new Redis(cluster.redis.url);
    const env = await admin.environments.named(ENV);
    signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    kid = (await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: signingKey.export({ type: 'pkcs8', format: 'pem' }).toString() })).kid;
    projectId = (await admin.projects.create({ name: 'tokens' })).id;
    for (const [name, basePath, type] of [
      ['orders', '/orders', 'jwt-auth'],
      ['ledger', '/ledger', 'oauth2-auth'],
    ]) {
      await admin.proxies.create(projectId, {
        name,
        basePath,
        upstreamUrl: echoUrl,
        environments: [ENV],
        policies: [{ type, config: { claimHeaders: type === 'jwt-auth' ? { tier: 'x-tier' } : undefined, methods: { POST: { scopes: ['write'] } } } }].map((p) => ({
          ...p,
          config: JSON.parse(JSON.stringify(p.config)),
        })),
      });
    }
    appId = (
      await admin.credentials.create(projectId, {
        username: 'billing-app',
        password: SECRET,
        issueApiKey: false,
        roles: ['service'],
        metadata: [
          { key: 'tier', value: 'gold', includeInJwt: true },
          { key: 'support_pin', value: '4711', secret: true, includeInTokenResponse: true, includeInJwt: true },
        ],
      })
    ).id;
    aliceId = (await admin.credentials.create(projectId, { username: 'alice', password: 'alice-password', issueApiKey: false, roles: ['reader'] })).id;
    await admin.credentials.create(projectId, { username: 'no-tokens', password: 'no-tokens-pass', issueApiKey: false });
    await admin.credentials.putTokenSettings(projectId, appId, {
      grants: ['client_credentials', 'password', 'refresh_token'],
      refreshAllowed: true,
      scopes: ['read', 'write'],
      scopeMode: 'strict',
      accessTokenLifetime: { amount: 5, unit: 'minutes' },
      jwtClaims: ['username', 'roles'],
    });
    gw = gateways[0].baseUrl;
    // Both gateways serve the key and the token settings once the JWKS lists the key.
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => fetch(`${g.baseUrl}/credential/.well-known/jwks.json`).then((r) => r.json()),
          (j) => j.keys?.[0]?.kid === kid,
          { what: `${g.name} JWKS` },
        ),
      ),
    );
  }, 120000);

  afterAll(async () => {
    redisClient?.disconnect();
    await cluster?.stop();
  }, 30000);

  const discover = (base: string, secret = SECRET) =>
    oidc.discovery(new URL(`${base}/credential`), 'billing-app', secret, undefined, { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] });

  it("is discovered through RFC 8414 under the fleet's public URL, whatever X-Forwarded-Proto/Host a client sends", async () => {
    const config = await discover(gw);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(`${gw}/credential`);
    expect(meta.token_endpoint).toBe(`${gw}/credential/token`);
    expect(meta.jwks_uri).toBe(`${gw}/credential/.well-known/jwks.json`);
    // Both Gateways name GATEWAY_PUBLIC_URL (the first one's URL here); a forged forwarding header changes nothing.
    const forwarded = await fetch(`${gateways[1].baseUrl}/credential/.well-known/oauth-authorization-server`, {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' },
    }).then((r) => r.json());
    expect(forwarded.issuer).toBe(`${gw}/credential`);
    expect(forwarded.introspection_endpoint).toBe(`${gw}/credential/introspect`);
  });

  it('issues opaque tokens (client_credentials) that open oauth2-auth on both gateways until revoked', async () => {
    const config = await discover(gw);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(300);
    expect(tokens.scope).toBe('read');
    expect(tokens.refresh_token).toBeUndefined();
    expect((tokens as Record<string, unknown>).support_pin).toBe('4711');
    const ok = await onBoth('/ledger/entries', tokens.access_token, 200, 'opaque token accepted');
    expect(ok[1].body.headers['x-authenticated-userid']).toBe('billing-app');
    expect(ok[1].body.headers['x-authenticated-userroles']).toBe('service');
    expect(ok[1].body.headers.authorization).toBeUndefined();
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, client_id: appId, scope: 'read', username: 'billing-app' });
    await oidc.tokenRevocation(config, tokens.access_token);
    const refused = await onBoth('/ledger/entries', tokens.access_token, 401, 'revoked token refused');
    expect(refused[1].wwwAuthenticate).toContain('error="invalid_token"');
    expect(await oidc.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
  }, 60000);

  it('uses the password grant, rotates refresh tokens and revokes the family on reuse', async () => {
    const config = await discover(gw);
    const first = await oidc.genericGrantRequest(config, 'password', { username: 'alice', password: 'alice-password', scope: 'read write' });
    expect(first.refresh_token).toMatch(/^idm_rt_/);
    const okPost = await fetch(`${gw}/ledger/x`, { method: 'POST', headers: { authorization: `Bearer ${first.access_token}` } });
    expect(okPost.status).toBe(200);
    expect((await okPost.json()).headers['x-authenticated-userid']).toBe('alice');
    const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    await onBoth('/ledger/x', second.access_token, 200, 'rotated access token works');
    const reuse = await post(gw, '/credential/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token! }, { authorization: basic('billing-app', SECRET) });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await onBoth('/ledger/x', second.access_token, 401, 'family revoked after reuse');
    const afterReuse = await post(gw, '/credential/token', { grant_type: 'refresh_token', refresh_token: second.refresh_token! }, { authorization: basic('billing-app', SECRET) });
    expect(afterReuse.body.error).toBe('invalid_grant');
    const wrongOwner = await post(gw, '/credential/token', { grant_type: 'password', username: 'alice', password: 'nope-nope' }, { authorization: basic('billing-app', SECRET) });
    expect(wrongOwner).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 60000);

  it('issues JWTs that jwt-auth accepts on both gateways, regenerates them, and forwards claims', async () => {
    const issued = await post(
      gw,
      '/credential/jwt',
      { grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'read' },
      { authorization: basic(appId, SECRET) },
    );
    expect(issued.status).toBe(200);
    const jwt = issued.body.access_token as string;
    const [header, payload] = jwt
      .split('.')
      .slice(0, 2)
      .map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()));
    expect(header).toEqual({ alg: 'RS256', kid, typ: 'at+jwt' });
    expect(payload).toMatchObject({
      iss: `${gw}/credential`,
      sub: aliceId,
      aud: expect.arrayContaining(['/orders', '/ledger']),
      scope: 'read',
      client_id: appId,
      username: 'alice',
      roles: ['reader'],
    });
    expect(payload.exp - payload.iat).toBe(300);
    const ok = await onBoth('/orders/1', jwt, 200, 'JWT accepted');
    expect(ok[0].body.headers['x-authenticated-userid']).toBe('alice');
    expect(ok[0].body.headers['x-authenticated-userroles']).toBe('reader');
    expect((await callProxy(gw, '/orders/1', jwt)).status).toBe(200);
    const write = await fetch(`${gw}/orders/1`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` } });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('error="insufficient_scope"');

    const service = await post(gw, '/credential/jwt', { grant_type: 'client_credentials', client_id: 'billing-app', client_secret: SECRET });
    const servicePayload = JSON.parse(Buffer.from(service.body.access_token.split('.')[1], 'base64url').toString());
    expect(servicePayload).toMatchObject({ tier: 'gold', support_pin: '4711', sub: appId });
    expect((await callProxy(gateways[1].baseUrl, '/orders/a', service.body.access_token)).body.headers['x-tier']).toBe('gold');

    const fresh = await post(gw, '/credential/jwt/regenerate', { client_id: appId, client_secret: SECRET }, { authorization: `Bearer ${jwt}` });
    expect(fresh.status).toBe(200);
    expect(fresh.body.access_token).not.toBe(jwt);
    expect((await callProxy(gw, '/orders/1', fresh.body.access_token)).status).toBe(200);
    const introspected = await post(gw, '/credential/introspect', { token: jwt }, { authorization: basic(appId, SECRET) });
    expect(introspected.body).toMatchObject({ active: true, sub: aliceId, scope: 'read' });
  }, 60000);

  it('refuses forged and stale JWTs with 401 invalid_token, never a 500', async () => {
    const good = forge({ alg: 'RS256', kid, typ: 'at+jwt' }, claims());
    expect((await callProxy(gw, '/orders/1', good)).status).toBe(200);
    const [h, , s] = good.split('.');
    const jwk = (await fetch(`${gw}/credential/.well-known/jwks.json`).then((r) => r.json())).keys[0];
    const publicPem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const hsHeader = segment({ alg: 'HS256', kid });
    const hsPayload = segment(claims());
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged: [string, string][] = [
      ['tampered payload', `${h}.${segment(claims({ sub: appId }))}.${s}`],
      ['wrong key', forge({ alg: 'RS256', kid }, claims(), other)],
      ['alg none', `${segment({ alg: 'none', kid })}.${segment(claims())}.`],
      ['HS256 signed with the public key', `${hsHeader}.${hsPayload}.${createHmac('sha256', publicPem).update(`${hsHeader}.${hsPayload}`).digest('base64url')}`],
      ['unknown kid', forge({ alg: 'RS256', kid: 'not-a-key' }, claims())],
      ['expired', forge({ alg: 'RS256', kid }, claims({ exp: Math.floor(Date.now() / 1000) - 120 }))],
      ['not yet valid', forge({ alg: 'RS256', kid }, claims({ nbf: Math.floor(Date.now() / 1000) + 600 }))],
      ['wrong audience', forge({ alg: 'RS256', kid }, claims({ aud: '/somewhere-else' }))],
      ['garbage', 'a.b.c'],
    ];
    for (const [what, token] of forged) {
      for (const g of gateways) {
        const r = await callProxy(g.baseUrl, '/orders/1', token);
        expect([what, r.status, r.body?.code, r.wwwAuthenticate]).toEqual([what, 401, 'invalid_token', 'Bearer realm="/orders", error="invalid_token"']);
      }
    }
    // Issued for another API of the project: its audience does not name /orders.
    const narrowed = await post(gw, '/credential/jwt', { grant_type: 'client_credentials', resource: '/ledger' }, { authorization: basic(appId, SECRET) });
    expect((await callProxy(gw, '/orders/1', narrowed.body.access_token)).status).toBe(401);
  }, 60000);

  it('answers client and request errors with RFC 6749 codes', async () => {
    const auth = { authorization: basic(appId, SECRET) };
    const both = await post(gw, '/credential/token', { grant_type: 'client_credentials', client_id: appId, client_secret: SECRET }, auth);
    expect(both).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const bad = await post(gw, '/credential/token', { grant_type: 'client_credentials' }, { authorization: basic(appId, 'wrong-secret') });
    expect(bad).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(bad.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(bad.headers.get('cache-control')).toBe('no-store');
    expect((await post(gw, '/credential/token', { grant_type: 'implicit' }, auth)).body.error).toBe('unsupported_grant_type');
    expect((await post(gw, '/credential/token', { grant_type: 'client_credentials', scope: 'admin' }, auth)).body.error).toBe('invalid_scope');
    const noSettings = await post(gw, '/credential/token', { grant_type: 'client_credentials' }, { authorization: basic('no-tokens', 'no-tokens-pass') });
    expect(noSettings).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
    const viaGet = await fetch(`${gw}/credential/token?grant_type=client_credentials&client_id=${appId}&client_secret=${SECRET}`);
    expect(viaGet.status).toBe(400);
    const json = await fetch(`${gw}/credential/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{}' });
    expect(json.status).toBe(400);
    expect((await post(gw, '/credential/revoke', { token: 'idm_at_unknown' }, auth)).status).toBe(200);
    expect((await post(gw, '/credential/introspect', { token: 'someone-elses-token' }, auth)).body).toEqual({ active: false });
  });

  it('reads the form itself: repeated parameters, oversized bodies, unknown paths and methods get a reason, never a 500', async () => {
    const auth = { authorization: basic(appId, SECRET), 'content-type': 'application/x-www-form-urlencoded' };
    const send = async (path: string, init: RequestInit) => {
      const res = await fetch(gw + path, init);
      return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
    };
    expect(await send('/credential/token', { method: 'POST', headers: auth, body: 'grant_type=client_credentials&grant_type=password' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: expect.stringContaining('repeated') },
    });
    expect(await send('/credential/jwt', { method: 'POST', headers: auth, body: `grant_type=client_credentials&pad=${'x'.repeat(70_000)}` })).toMatchObject({
      status: 413,
      body: { error: 'invalid_request' },
    });
    expect(
      await send('/credential/jwt', { method: 'POST', headers: { authorization: auth.authorization, 'content-type': 'text/plain' }, body: 'grant_type=client_credentials' }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await send('/credential/nothing-here', { method: 'POST', headers: auth, body: '' })).toMatchObject({ status: 404, body: { code: 'route_not_found' } });
    const wrongMethod = await send('/credential/introspect', { method: 'PUT', headers: auth, body: '' });
    expect(wrongMethod).toMatchObject({ status: 405, body: { code: 'method_not_allowed' } });
    expect(wrongMethod.headers.get('allow')).toBe('POST, OPTIONS');
    // The connection survives a refused body: the next call on it is answered normally.
    expect((await post(gw, '/credential/jwt', { grant_type: 'client_credentials' }, { authorization: auth.authorization })).status).toBe(200);
    const head = await fetch(`${gw}/credential/.well-known/jwks.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('cache-control')).toBe('public, max-age=300');
  });

  it("serves a token Redis lost from the Manager's durable copy, and stops tokens of a disabled credential", async () => {
    const config = await discover(gw);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    const jwt = (await post(gw, '/credential/jwt', { grant_type: 'client_credentials' }, { authorization: basic(appId, SECRET) })).body.access_token;
    await onBoth('/ledger/a', tokens.access_token, 200, 'live token');
    const redisKey = `{idm:tokens:${ENV}}:at:${createHash('sha256').update(tokens.access_token).digest('base64url')}`;
    // The durable copy is written asynchronously (BullMQ); wait until the Manager has it.
    await eventually(
      async () => (await redisClient.del(redisKey), (await callProxy(gw, '/ledger/a', tokens.access_token)).status),
      (s) => s === 200,
      { what: 'durable copy answers' },
    );
    expect(await redisClient.exists(redisKey)).toBe(0);

    await admin.credentials.update(projectId, appId, { enabled: false });
    await onBoth('/ledger/a', tokens.access_token, 401, 'opaque token of a disabled credential');
    await onBoth('/orders/a', jwt, 401, 'JWT of a disabled credential');
    await admin.credentials.update(projectId, appId, { enabled: true });
    await onBoth('/orders/a', jwt, 200, 'JWT again after re-enabling');
  }, 60000);
});
