import { generateKeyPairSync } from 'node:crypto';
import * as oidc from 'openid-client';
import { Client } from 'pg';
import { eventually, type AppProcess } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { Browser, locationOf } from './support/test-browser';

/**
 * Dynamic client registration (RFC 7591) and its management protocol (RFC 7592) at the Gateway's
 * OpenID Provider (issue #15 §2), on a Manager and two Gateway processes: the per-project switch
 * and initial access tokens of the admin API, discovery naming the endpoint only while a project
 * accepts registrations, every refusal with its RFC code (tokens missing, unknown, expired,
 * revoked, spent, of a switched-off project; redirect URIs and metadata the provider would not
 * serve; an oversized body; another client's registration access token), and a registered client
 * that is an ordinary OIDC client: listed and audited (source `dcr`) in the Manager, logging a
 * user in with openid-client through the other Gateway, refused at /token once deleted.
 */
describe('Dynamic client registration (RFC 7591/7592) at /credential/register', () => {
  const ENV = 'dcr';
  const RP = 'https://rp.example/cb';
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let projectId: string;
  let offProjectId: string;
  let issuer: string;

  const register = (body: unknown, token?: string, init: { contentType?: string; raw?: string; via?: string } = {}) =>
    call('POST', `${init.via ?? issuer}/register`, token, init.raw ?? JSON.stringify(body), init.contentType);
  const call = async (method: string, url: string, token?: string, body?: string, contentType = 'application/json') => {
    const res = await fetch(url, {
      method,
      headers: { ...(token !== undefined && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': contentType }) },
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const newToken = (project: string, extra: Record<string, unknown> = {}) =>
    admin.call('POST', `/api/v1/projects/${project}/initial-access-tokens`, { description: 'for the test', ...extra }) as Promise<{ id: string; token: string; prefix: string }>;
  const discovered = async (gatewayUrl: string) => (await (await fetch(`${gatewayUrl}/credential/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  /** Until the assertion holds (publication reaches every Gateway within seconds). */
  const settles = (check: () => Promise<unknown>) =>
    eventually(
      async () => {
        await check();
        return true;
      },
      Boolean,
      { timeoutMs: 10_000 },
    );
  /** A code redemption at `gateway`'s /token with HTTP Basic client authentication: its status and error code. */
  const tokenCall = async (gateway: string, clientId: string, secret: string, code = 'x'.repeat(43), verifier = 'v'.repeat(43)) => {
    const res = await fetch(`${gateway}/credential/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP, code_verifier: verifier }).toString(),
    });
    return { status: res.status, error: ((await res.json()) as { error?: string }).error };
  };
  /** Sets a column of an initial access token the API cannot set (an expiry in the past). */
  const sql = async (statement: string, values: unknown[]) => {
    const db = new Client({ connectionString: cluster.database.url });
    await db.connect();
    try {
      await db.query(statement, values);
    } finally {
      await db.end();
    }
  };
  /** Logs alice in on `gateway` through the client (consent allowed): the authorization response's URL and the flow's PKCE values. */
  const login = async (config: oidc.Configuration, gateway: string) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const browser = new Browser();
    const onGateway = (u: string) => gateway + new URL(u).pathname + new URL(u).search;
    const page = await browser.get(onGateway(url.href));
    expect(page.status).toBe(200);
    const html = await page.text();
    const field = (name: string, text: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(text)?.[1] ?? '';
    const action = /<form method="post" action="([^"]+)"/.exec(html)![1];
    const consent = await browser.postForm(onGateway(action), {
      transaction: field('transaction', html),
      csrf: field('csrf', html),
      username: 'alice',
      password: 'alice-password-1',
    });
    // A registered client is a third party: the user is asked.
    expect(consent.status).toBe(200);
    const consentHtml = await consent.text();
    expect(consentHtml).toContain('value="allow"');
    const back = await browser.postForm(onGateway(/<form method="post" action="([^"]+)"/.exec(consentHtml)![1]), {
      transaction: field('transaction', consentHtml),
      csrf: field('csrf', consentHtml),
      decision: 'allow',
    });
    expect(back.status).toBe(303);
    return { location: locationOf(back, gateway), verifier, state, nonce };
  };

  beforeAll(async () => {
    // Every call here comes from 127.0.0.1: the registration rate limit (client-registration-rate-limit.e2e) is raised out of the way.
    const roomy = { DCR_RATE_LIMIT_PER_ADDRESS: '1000/60', DCR_RATE_LIMIT_PER_TOKEN: '1000/60' };
    cluster = await startCluster({ environment: ENV, gateways: [roomy, roomy], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    ({ gateways, admin } = cluster);
    issuer = `${gateways[0].baseUrl}/credential`;
    const env = await admin.environments.named(ENV);
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
    projectId = (await admin.projects.create({ name: 'dcr' })).id;
    offProjectId = (await admin.projects.create({ name: 'dcr-off' })).id;
    // A deployed proxy makes the project's credentials (clients and users) visible to the environment.
    await admin.proxies.create(projectId, { name: 'orders', basePath: '/orders', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'jwt-auth', config: {} }] });
    await admin.endUsers.create(projectId, { username: 'alice', password: 'alice-password-1', email: 'alice@example.com', emailVerified: true });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('is off until the project turns it on: discovery names the endpoint only then, on every Gateway', async () => {
    expect(await admin.call('GET', `/api/v1/projects/${projectId}/client-registration`)).toEqual({ enabled: false });
    expect((await discovered(gateways[0].baseUrl)).registration_endpoint).toBeUndefined();
    const early = await newToken(projectId);
    // The token is fine, the project does not accept registrations: 403, nothing created.
    const refused = await register({ redirect_uris: [RP] }, early.token);
    expect(refused).toMatchObject({ status: 403, body: { error: 'access_denied' } });
    expect(await admin.call('PUT', `/api/v1/projects/${projectId}/client-registration`, { enabled: true })).toEqual({ enabled: true });
    for (const gateway of gateways) await settles(async () => expect((await discovered(gateway.baseUrl)).registration_endpoint).toBe(`${issuer}/register`));
    const audit = await admin.audit.query({ entityKind: 'client_registration_settings', entityId: projectId });
    expect(audit.items.map((e) => [e.action, e.diff])).toEqual([['client_registration_settings.update', { enabled: { old: false, new: true } }]]);
  });

  it('creates, lists and revokes initial access tokens (shown once, stored hashed, audited without the token)', async () => {
    const created = await newToken(projectId, { singleUse: true, expiresInSeconds: 600 });
    expect(created.token).toMatch(/^iat_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(created.prefix)).toBe(true);
    const listed = (await admin.call('GET', `/api/v1/projects/${projectId}/initial-access-tokens`)) as Record<string, unknown>[];
    const mine = listed.find((t) => t.id === created.id)!;
    expect(mine).toMatchObject({ prefix: created.prefix, singleUse: true, usedAt: null, registrations: 0 });
    expect(JSON.stringify(listed)).not.toContain(created.token.slice(created.prefix.length));
    const audit = await admin.audit.query({ entityKind: 'initial_access_token', entityId: created.id });
    expect(JSON.stringify(audit.items)).not.toContain(created.token.slice(created.prefix.length));
    // Bad input is a problem document, nothing stored.
    await expect(admin.call('POST', `/api/v1/projects/${projectId}/initial-access-tokens`, { expiresInSeconds: 10 })).rejects.toThrow(/400/);
    await expect(admin.call('POST', `/api/v1/projects/${projectId}/initial-access-tokens`, { token: 'mine' })).rejects.toThrow(/400/);
    await admin.call('DELETE', `/api/v1/projects/${projectId}/initial-access-tokens/${created.id}`);
    await expect(admin.call('DELETE', `/api/v1/projects/${projectId}/initial-access-tokens/${created.id}`)).rejects.toThrow(/404/);
    // The revoked token registers nothing.
    expect(await register({ redirect_uris: [RP] }, created.token)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('refuses a missing, unknown, expired, revoked, spent or switched-off initial access token with 401 invalid_token (403 for the switch)', async () => {
    const metadata = { redirect_uris: [RP] };
    const none = await register(metadata);
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_token');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await register(metadata, 'iat_unknown_' + 'x'.repeat(43))).body.error).toBe('invalid_token');
    // Another scheme is no bearer token.
    const basic = await fetch(`${issuer}/register`, {
      method: 'POST',
      headers: { authorization: 'Basic dXNlcjpwYXNz', 'content-type': 'application/json' },
      body: JSON.stringify(metadata),
    });
    expect(basic.status).toBe(401);
    const expired = await newToken(projectId);
    await sql("UPDATE initial_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [expired.id]);
    expect(await register(metadata, expired.token)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const once = await newToken(projectId, { singleUse: true });
    expect((await register(metadata, once.token)).status).toBe(201);
    expect(await register(metadata, once.token)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const listed = (await admin.call('GET', `/api/v1/projects/${projectId}/initial-access-tokens`)) as Record<string, unknown>[];
    expect(listed.find((t) => t.id === once.id)).toMatchObject({ registrations: 1, usedAt: expect.any(String) });
    // A token of a project that never switched registration on.
    const off = await newToken(offProjectId);
    expect(await register(metadata, off.token)).toMatchObject({ status: 403, body: { error: 'access_denied' } });
    expect(await admin.call('GET', `/api/v1/projects/${offProjectId}/oidc-clients`)).toEqual([]);
  });

  it('refuses metadata it would not serve, with the RFC 7591 §3.2.2 codes, and registers nothing', async () => {
    const { token } = await newToken(projectId);
    const before = ((await admin.call('GET', `/api/v1/projects/${projectId}/oidc-clients`)) as unknown[]).length;
    const cases: [unknown, string][] = [
      [{}, 'invalid_redirect_uri'],
      [{ redirect_uris: [] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['http://rp.example/cb'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['https://rp.example/cb#frag'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['https://user:pw@rp.example/cb'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: [RP], post_logout_redirect_uris: ['http://rp.example/bye'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: RP }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], response_types: ['token'] }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], response_types: ['code', 'id_token'] }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], grant_types: ['implicit'] }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], grant_types: ['password', 'authorization_code'] }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'client_credentials'] }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], token_endpoint_auth_method: 'client_secret_jwt' }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] } }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://169.254.169.254/jwks' }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example/jwks' }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], client_name: 'x'.repeat(201) }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], registration_access_token: 'mine' }, 'invalid_client_metadata'],
      [{ redirect_uris: [RP], software_statement: 'eyJhbGciOiJub25lIn0.e30.' }, 'invalid_software_statement'],
      [[RP], 'invalid_client_metadata'],
    ];
    for (const [metadata, code] of cases) {
      const answer = await register(metadata, token);
      expect([JSON.stringify(metadata), answer.status, answer.body.error]).toEqual([JSON.stringify(metadata), 400, code]);
      expect(answer.body.error_description).toEqual(expect.any(String));
    }
    expect((await register(null, token, { raw: '{"redirect_uris": [' })).body.error).toBe('invalid_client_metadata');
    expect((await register(null, token, { raw: 'redirect_uris=x', contentType: 'application/x-www-form-urlencoded' })).status).toBe(400);
    const huge = await register(null, token, { raw: JSON.stringify({ redirect_uris: [RP], client_name: 'x'.repeat(70_000) }) });
    expect(huge.status).toBe(413);
    expect(((await admin.call('GET', `/api/v1/projects/${projectId}/oidc-clients`)) as unknown[]).length).toBe(before);
  });

  it('registers a client that is an ordinary OIDC client: listed, audited as dcr, logging a user in through the other Gateway', async () => {
    const { token, prefix } = await newToken(projectId);
    const answer = await register(
      { redirect_uris: [RP], client_name: 'Partner App', grant_types: ['authorization_code', 'refresh_token'], contacts: ['ops@rp.example'], extension: 'ignored' },
      token,
    );
    expect(answer.status).toBe(201);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const client = answer.body;
    expect(client).toMatchObject({
      client_id: expect.any(String),
      client_secret: expect.any(String),
      client_secret_expires_at: 0,
      client_id_issued_at: expect.any(Number),
      registration_access_token: expect.stringMatching(/^rat_/),
      registration_client_uri: `${issuer}/register/${client.client_id}`,
      redirect_uris: [RP],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      client_name: 'Partner App',
      contacts: ['ops@rp.example'],
    });
    expect(client.extension).toBeUndefined();
    const listed = (await admin.call('GET', `/api/v1/projects/${projectId}/oidc-clients`)) as Record<string, unknown>[];
    expect(listed.find((c) => c.credentialId === client.client_id)).toMatchObject({ clientType: 'confidential', redirectUris: [RP], consentRequired: true });
    const audit = await admin.audit.query({ entityKind: 'credential', entityId: client.client_id });
    expect(audit.items.map((e) => [e.action, e.actor.source, e.actor.name])).toEqual([['credential.create', 'dcr', `dcr:${prefix}`]]);
    expect(JSON.stringify(audit.items)).not.toContain(client.client_secret);
    // The whole code flow with PKCE on the second Gateway (the client reached it by publication).
    const other = gateways[1].baseUrl;
    const probe = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: RP,
      scope: 'openid',
      code_challenge: 'c'.repeat(43),
      code_challenge_method: 'S256',
    });
    await settles(async () => expect((await fetch(`${other}/credential/authorize?${probe.toString()}`)).status).toBe(200));
    const config = await oidc.discovery(new URL(issuer), client.client_id, undefined, oidc.ClientSecretBasic(client.client_secret), { execute: [oidc.allowInsecureRequests] });
    const flow = await login(config, other);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(flow.location), {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()).toMatchObject({ aud: client.client_id, iss: issuer });
    // The secret is the client's: a wrong one is invalid_client.
    expect(await tokenCall(other, client.client_id, 'not-the-secret')).toMatchObject({ status: 401, error: 'invalid_client' });
  });

  it('reads, replaces (rotating the registration access token) and deletes a client with its own registration access token only (RFC 7592)', async () => {
    const { token } = await newToken(projectId);
    const mine = (await register({ redirect_uris: [RP], client_name: 'Mine' }, token)).body;
    const theirs = (await register({ redirect_uris: ['http://127.0.0.1:7777/cb'], token_endpoint_auth_method: 'none' }, token)).body;
    expect(theirs.client_secret).toBeUndefined();
    const uri = mine.registration_client_uri as string;
    // Read: the metadata as registered, never the secret.
    const read = await call('GET', uri, mine.registration_access_token);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ client_id: mine.client_id, client_name: 'Mine', redirect_uris: [RP], registration_client_uri: uri });
    expect(read.body.client_secret).toBeUndefined();
    expect(read.body.registration_access_token).toBeUndefined();
    // Another client's token, an initial access token, no token, a client that does not exist: the same 401.
    for (const [url, bearer] of [
      [uri, theirs.registration_access_token],
      [uri, token],
      [uri, undefined],
      [`${issuer}/register/00000000-0000-4000-8000-000000000000`, mine.registration_access_token],
      [`${issuer}/register/not-a-uuid`, mine.registration_access_token],
    ] as [string, string | undefined][]) {
      for (const method of ['GET', 'DELETE']) expect([method, url, (await call(method, url, bearer)).status]).toEqual([method, url, 401]);
      expect((await call('PUT', url, bearer, JSON.stringify({ client_id: mine.client_id, redirect_uris: [RP] }))).body.error).toBe('invalid_token');
    }
    // Replace: client_id must name the client; the secret can be repeated, never chosen.
    const put = (body: unknown, bearer = mine.registration_access_token) => call('PUT', uri, bearer, JSON.stringify(body));
    expect((await put({ redirect_uris: [RP] })).body.error).toBe('invalid_client_metadata');
    expect((await put({ client_id: mine.client_id, client_secret: 'chosen', redirect_uris: [RP] })).body.error).toBe('invalid_client_metadata');
    expect((await put({ client_id: mine.client_id, redirect_uris: ['http://rp.example/cb'] })).body.error).toBe('invalid_redirect_uri');
    const replaced = await put({ client_id: mine.client_id, client_secret: mine.client_secret, redirect_uris: [RP, 'https://rp.example/cb2'], client_name: 'Mine v2' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ client_id: mine.client_id, client_name: 'Mine v2', redirect_uris: [RP, 'https://rp.example/cb2'] });
    expect(replaced.body.registration_access_token).not.toBe(mine.registration_access_token);
    // The old registration access token is spent; the new one works; the secret did not change.
    expect((await call('GET', uri, mine.registration_access_token)).status).toBe(401);
    expect((await call('GET', uri, replaced.body.registration_access_token)).body.client_name).toBe('Mine v2');
    const config = await oidc.discovery(new URL(issuer), mine.client_id, undefined, oidc.ClientSecretBasic(mine.client_secret), { execute: [oidc.allowInsecureRequests] });
    // A code issued before the deletion is refused at /token afterwards: the client is gone on every Gateway.
    const flow = await login(config, gateways[0].baseUrl);
    const deleted = await call('DELETE', uri, replaced.body.registration_access_token);
    expect(deleted.status).toBe(204);
    const code = new URL(flow.location).searchParams.get('code')!;
    expect(await tokenCall(gateways[0].baseUrl, mine.client_id, mine.client_secret, code, flow.verifier)).toMatchObject({ status: 401, error: 'invalid_client' });
    for (const gateway of gateways) {
      await settles(async () => expect(await tokenCall(gateway.baseUrl, mine.client_id, mine.client_secret)).toMatchObject({ status: 401, error: 'invalid_client' }));
    }
    expect((await call('GET', uri, replaced.body.registration_access_token)).status).toBe(401);
    const audit = await admin.audit.query({ entityKind: 'credential', entityId: mine.client_id });
    expect(audit.items.map((e) => [e.action, e.actor.source])).toEqual([
      ['credential.delete', 'dcr'],
      ['credential.update', 'dcr'],
      ['credential.create', 'dcr'],
    ]);
    // Switched off: the management protocol stops too (403), and discovery drops the endpoint.
    await admin.call('PUT', `/api/v1/projects/${projectId}/client-registration`, { enabled: false });
    expect(await call('GET', theirs.registration_client_uri, theirs.registration_access_token)).toMatchObject({ status: 403, body: { error: 'access_denied' } });
    for (const gateway of gateways) await settles(async () => expect((await discovered(gateway.baseUrl)).registration_endpoint).toBeUndefined());
  });
  it('routes only the RFC methods, and answers 503 (nothing half-done) while the Manager is down', async () => {
    const { token } = await newToken(projectId);
    expect((await call('GET', `${issuer}/register`, token)).status).toBe(405);
    expect((await call('POST', `${issuer}/register/00000000-0000-4000-8000-000000000000`, token, '{}')).status).toBe(405);
    expect((await call('GET', `${issuer}/register/a/b`, token)).status).toBe(404);
    await admin.call('PUT', `/api/v1/projects/${projectId}/client-registration`, { enabled: true });
    await cluster.manager.stop('SIGKILL');
    try {
      const down = await register({ redirect_uris: [RP] }, token);
      expect(down).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
    } finally {
      await cluster.restartManager();
      admin = cluster.admin;
    }
    // Back: the same token registers (the refused attempt spent nothing).
    expect((await register({ redirect_uris: [RP] }, token)).status).toBe(201);
  }, 120_000);
});
