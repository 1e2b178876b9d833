import { createHash, generateKeyPairSync, webcrypto } from 'node:crypto';
import Redis from 'ioredis';
import * as oidc from 'openid-client';
import { eventually } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { Browser, openLoginPage } from './support/test-browser';

/**
 * Pushed Authorization Requests (RFC 9126) at the OpenID Provider (issue #15 §2): `openid-client`
 * pushes the request (client_secret_basic, private_key_jwt, a public client) and runs the whole
 * code flow from the `request_uri`; the hostile cases: an unauthenticated push (401), a request
 * /authorize would refuse (400 with its reason, nothing stored), a request_uri presented by
 * another client, replayed or expired (invalid_request_uri), parameters beside request_uri
 * ignored, and a client that requires PAR refused plain parameters.
 */
describe('Pushed authorization requests (/credential/par) with openid-client', () => {
  const ENV = 'oidc-par';
  const SECRET = 'par-web-client-secret';
  const RP = 'https://rp.example/cb';
  const SPA = 'http://127.0.0.1:7777/cb';
  let cluster: Cluster;
  let admin: AdminClient;
  let redis: Redis;
  let issuer: string;
  let webId: string;
  let strictId: string;
  let web: oidc.Configuration;
  let spa: oidc.Configuration;
  let signed: oidc.Configuration;
  let strict: oidc.Configuration;
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  /** Logs alice in at an authorization URL; the login form's answer. */
  const loginAlice = async (authorizationUrl: string) => (await openLoginPage(new Browser(), authorizationUrl))('alice', 'alice-password-1');
  const flowOf = async (redirectUri: string) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const params = {
      redirect_uri: redirectUri,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    return { params, verifier, state, nonce };
  };
  /** The whole flow from a pushed request: push, log in at /authorize?client_id&request_uri, redeem the code. */
  const pushedFlow = async (config: oidc.Configuration, redirectUri: string) => {
    const flow = await flowOf(redirectUri);
    const url = await oidc.buildAuthorizationUrlWithPAR(config, flow.params).catch((err: { cause?: unknown }) => {
      throw new Error(`PAR refused: ${JSON.stringify(err.cause)}`);
    });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const done = await loginAlice(url.toString());
    expect(done.status).toBe(303);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.headers.get('location')!), {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    return tokens;
  };
  const push = async (fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${issuer}/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const webBasic = () => `Basic ${Buffer.from(`${webId}:${SECRET}`).toString('base64')}`;
  const validFields = async () => ({ ...(await flowOf(RP)).params, response_type: 'code' });
  const authorizeWith = (clientId: string, requestUri: string, extra: Record<string, string> = {}) =>
    new Browser().get(`${issuer}/authorize?${new URLSearchParams({ client_id: clientId, request_uri: requestUri, ...extra }).toString()}`);
  const parKey = (requestUri: string) => `{idm:oidc:${ENV}}:par:${createHash('sha256').update(requestUri.slice('urn:ietf:params:oauth:request_uri:'.length)).digest('base64url')}`;

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    admin = cluster.admin;
    redis = new Redis(cluster.redis.url);
    issuer = `${cluster.gateways[0].baseUrl}/credential`;
    const env = await admin.environments.named(ENV);
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
    const projectId = (await admin.projects.create({ name: 'oidc-par' })).id;
    await admin.proxies.create(projectId, { name: 'orders', basePath: '/orders', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'jwt-auth', config: {} }] });
    await admin.endUsers.create(projectId, { username: 'alice', password: 'alice-password-1', email: 'alice@example.com' });
    webId = (await admin.credentials.create(projectId, { username: 'web-app', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, webId, { grants: ['authorization_code'], oidc: { redirectUris: [RP] } });
    const spaId = (await admin.credentials.create(projectId, { username: 'spa', issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, spaId, {
      grants: ['authorization_code'],
      oidc: { clientType: 'public', tokenEndpointAuthMethod: 'none', redirectUris: [SPA] },
    });
    const signedId = (await admin.credentials.create(projectId, { username: 'signed-app', issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, signedId, {
      grants: ['authorization_code'],
      oidc: { redirectUris: [RP], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ ...signingKey.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig' }] } },
    });
    strictId = (await admin.credentials.create(projectId, { username: 'strict-app', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, strictId, {
      grants: ['authorization_code'],
      oidc: { redirectUris: [RP], tokenEndpointAuthMethod: 'client_secret_post', requirePar: true },
    });
    const insecure = { execute: [oidc.allowInsecureRequests] };
    web = await oidc.discovery(new URL(issuer), webId, undefined, oidc.ClientSecretBasic(SECRET), insecure);
    spa = await oidc.discovery(new URL(issuer), spaId, undefined, oidc.None(), insecure);
    strict = await oidc.discovery(new URL(issuer), strictId, undefined, oidc.ClientSecretPost(SECRET), insecure);
    const cryptoKey = await webcrypto.subtle.importKey('pkcs8', signingKey.privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ]);
    signed = await oidc.discovery(new URL(issuer), signedId, undefined, oidc.PrivateKeyJwt({ key: cryptoKey, kid: 'k1' }), insecure);
    // The Gateway serves the clients once the revision naming them is active.
    await eventually(
      async () => (await push(await validFields(), { authorization: webBasic() })).status,
      (status) => status === 201,
      { what: 'the gateway knows the OIDC clients' },
    );
  }, 300_000);

  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  }, 60_000);

  it('advertises the PAR endpoint in discovery, required per client only', () => {
    expect(web.serverMetadata()).toMatchObject({ pushed_authorization_request_endpoint: `${issuer}/par`, require_pushed_authorization_requests: false });
  });

  it('runs the whole code flow from a pushed request for client_secret_basic, private_key_jwt and a public client', async () => {
    for (const [config, redirectUri] of [
      [web, RP],
      [signed, RP],
      [spa, SPA],
    ] as const) {
      const tokens = await pushedFlow(config, redirectUri);
      expect(tokens.claims()).toMatchObject({ iss: issuer, aud: config.clientMetadata().client_id });
    }
  });

  it('answers 201 with a request_uri URN that expires in 60-90 s, stored single-use in Redis', async () => {
    const pushed = await push(await validFields(), { authorization: webBasic() });
    expect(pushed.status).toBe(201);
    expect(pushed.headers.get('cache-control')).toBe('no-store');
    expect(pushed.body.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/);
    expect(pushed.body.expires_in).toBeGreaterThanOrEqual(60);
    expect(pushed.body.expires_in).toBeLessThanOrEqual(90);
    const ttl = await redis.ttl(parKey(pushed.body.request_uri as string));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(90);
    // What Redis holds is keyed by a hash: the request_uri itself is not in it.
    expect(await redis.exists(`{idm:oidc:${ENV}}:par:${(pushed.body.request_uri as string).split(':').pop()}`)).toBe(0);
  });

  it('refuses an unauthenticated push (401 invalid_client) and stores nothing', async () => {
    const before = (await redis.keys(`{idm:oidc:${ENV}}:par:*`)).length;
    const anonymous = await push({ ...(await validFields()), client_id: webId });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('invalid_client');
    expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
    const wrongSecret = await push(await validFields(), { authorization: `Basic ${Buffer.from(`${webId}:nope`).toString('base64')}` });
    expect(wrongSecret.status).toBe(401);
    expect((await redis.keys(`{idm:oidc:${ENV}}:par:*`)).length).toBe(before);
  });

  it('validates the pushed request as /authorize does: 400 with the reason, nothing stored', async () => {
    const before = (await redis.keys(`{idm:oidc:${ENV}}:par:*`)).length;
    const cases: [Record<string, string>, string][] = [
      [{ redirect_uri: 'https://evil.example/cb' }, 'invalid_redirect_uri'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ scope: 'profile' }, 'invalid_scope'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported'],
      [{ request_uri: 'urn:ietf:params:oauth:request_uri:abc' }, 'invalid_request'],
      [{ client_id: strictId }, 'invalid_request'],
    ];
    for (const [change, reason] of cases) {
      const answer = await push({ ...(await validFields()), ...change }, { authorization: webBasic() });
      expect({ change, status: answer.status, error: answer.body.error }).toEqual({ change, status: 400, error: reason });
      expect(typeof answer.body.error_description).toBe('string');
    }
    expect((await redis.keys(`{idm:oidc:${ENV}}:par:*`)).length).toBe(before);
  });

  it("refuses another client's request_uri without spending it, then a replay of it", async () => {
    const flow = await flowOf(RP);
    const url = await oidc.buildAuthorizationUrlWithPAR(web, flow.params);
    const requestUri = url.searchParams.get('request_uri')!;
    const stolen = await authorizeWith(strictId, requestUri);
    expect(stolen.status).toBe(400);
    expect(await stolen.text()).toContain('invalid_request_uri');
    const done = await loginAlice(url.toString());
    expect(done.status).toBe(303);
    expect(new URL(done.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    const replay = await authorizeWith(webId, requestUri);
    expect(replay.status).toBe(400);
    expect(replay.headers.get('location')).toBeNull();
    expect(await replay.text()).toContain('invalid_request_uri');
  });

  it('refuses an expired request_uri (expired in Redis) and an unknown one', async () => {
    const url = await oidc.buildAuthorizationUrlWithPAR(web, (await flowOf(RP)).params);
    const requestUri = url.searchParams.get('request_uri')!;
    await redis.pexpire(parKey(requestUri), 1);
    await eventually(
      () => redis.exists(parKey(requestUri)),
      (n) => n === 0,
      { what: 'the pushed request expired' },
    );
    const expired = await authorizeWith(webId, requestUri);
    expect(expired.status).toBe(400);
    expect(await expired.text()).toContain('invalid_request_uri');
    const unknown = await authorizeWith(webId, 'urn:ietf:params:oauth:request_uri:never-issued');
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('invalid_request_uri');
  });

  it('ignores parameters beside client_id and request_uri (RFC 9126 §4)', async () => {
    const flow = await flowOf(RP);
    const url = await oidc.buildAuthorizationUrlWithPAR(web, flow.params);
    const done = await loginAlice(
      `${url.toString()}&${new URLSearchParams({ redirect_uri: 'https://evil.example/cb', state: 'forged', scope: 'openid email', response_type: 'token' }).toString()}`,
    );
    expect(done.status).toBe(303);
    const location = new URL(done.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(RP);
    expect(location.searchParams.get('state')).toBe(flow.state);
    const tokens = await oidc.authorizationCodeGrant(web, location, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    expect(tokens.scope).toBe('openid profile');
  });

  it('refuses plain parameters for a client that requires PAR, and runs its flow from a pushed request', async () => {
    const flow = await flowOf(RP);
    const plain = await new Browser().get(oidc.buildAuthorizationUrl(strict, flow.params).toString());
    expect(plain.status).toBe(303);
    const refused = new URL(plain.headers.get('location')!);
    expect(refused.searchParams.get('error')).toBe('invalid_request');
    expect(refused.searchParams.get('error_description')).toContain('PAR');
    const tokens = await pushedFlow(strict, RP);
    expect(tokens.claims()?.aud).toBe(strictId);
  });
});
