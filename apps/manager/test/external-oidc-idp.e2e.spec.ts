import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import * as oidc from 'openid-client';
import { eventually, freePort } from '@idm/test-kit';
import { startCluster, type Cluster } from './support/cluster';
import { loginAtIdp, startExternalIdp, startHostileIdp, type ExternalIdp } from './support/external-oidc-idps';
import { addSigningKey, createDeployedProject, createLoginClient } from './support/login-cluster';
import { Browser, errorCodeOf, locationOf } from './support/test-browser';

const ENV = `xidp-${randomBytes(3).toString('hex')}`;
const MASTER_KEYS = `m1:${randomBytes(32).toString('base64')}`;
const IDP_CLIENT_SECRET = `idp-client-secret-${randomBytes(8).toString('hex')}`;

/**
 * External OIDC IdPs as identity sources (#16): a source of type `oidc` offers "Sign in with
 * <name>" on the OpenID Provider's login page of clients that list it; the Gateway runs the code
 * flow (PKCE, state, nonce) against the IdP (oidc-provider, npm), verifies its ID token, maps the
 * claims, provisions the end user just in time exactly as a password source does, and finishes
 * the client's own /authorize: our ID token's sub is the linked end user. Hostile callbacks
 * (forged state, replay, another browser, a wrong audience or nonce), a source the client does not
 * list and an IdP that is down end on an error page with a reason, never a 500 nor a user.
 */
describe('external OIDC IdPs as identity sources (login page "Sign in with", just-in-time end users)', () => {
  const s = randomBytes(3).toString('hex');
  const RP = 'https://rp.example/cb';
  const SECRET = 'xidp-client-secret';
  const SOURCE = `idp-${s}`;
  let cluster: Cluster;
  let issuer: string;
  let idp: ExternalIdp;
  let hostile: { base: string; server: Server };
  let projectId: string;
  let sourceId: string;
  let appId: string;
  let noIdpAppId: string;

  const endUsers = async () => (await cluster.admin.call('GET', `/api/v1/projects/${projectId}/users`)) as Array<Record<string, any>>;
  const endUser = async (username: string) => (await endUsers()).find((u) => u.username === username);
  const createSource = (body: Record<string, unknown>) => cluster.admin.call('POST', '/api/v1/identity-sources', body);

  beforeAll(async () => {
    cluster = await startCluster({
      environment: ENV,
      gateways: [{ IDM_MASTER_KEYS: MASTER_KEYS }],
      managerEnv: { IDM_MASTER_KEYS: MASTER_KEYS, SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' },
    });
    const admin = cluster.admin;
    issuer = `${cluster.gateways[0]!.baseUrl}/credential`;
    idp = await startExternalIdp(`${issuer}/external/callback`, IDP_CLIENT_SECRET);
    hostile = await startHostileIdp();
    await addSigningKey(cluster, ENV, 'RS256');
    projectId = await createDeployedProject(cluster, ENV, `xidp-${s}`, `/orders-${s}`);
    // The client secret the IdP registered, as a project secret the source names (sealed, rotatable).
    const clientSecret = await admin.call('POST', `/api/v1/projects/${projectId}/secrets`, {
      name: `idp-client-${s}`,
      kind: 'shared-secret',
      material: Buffer.from(IDP_CLIENT_SECRET, 'utf8').toString('base64url'),
    });
    sourceId = (
      await createSource({
        name: SOURCE,
        type: 'oidc',
        projectId,
        config: {
          issuer: idp.issuer,
          clientId: 'idm-gateway',
          clientSecretId: clientSecret.id,
          scopes: ['openid', 'email', 'profile'],
          requiredClaims: { email_verified: [true] },
        },
        roleMappings: { staff: ['reader'] },
      })
    ).id;
    for (const mode of ['wrong-aud', 'wrong-nonce'])
      await createSource({ name: `${mode}-${s}`, type: 'oidc', projectId, config: { issuer: `${hostile.base}/${mode}`, clientId: 'idm-gateway' } });
    await createSource({ name: `down-${s}`, type: 'oidc', projectId, config: { issuer: `http://127.0.0.1:${await freePort()}`, clientId: 'idm-gateway' }, timeoutMs: 2000 });
    await createSource({ name: `unlisted-${s}`, type: 'oidc', projectId, config: { issuer: idp.issuer, clientId: 'idm-gateway' }, secret: IDP_CLIENT_SECRET });
    // A local end user named like an IdP account: the IdP must never take it over.
    await admin.endUsers.create(projectId, { username: 'bob', password: 'local-bob-password', email: 'bob-local@example.org' });
    appId = await createLoginClient(cluster, projectId, {
      name: 'xidp-app',
      secret: SECRET,
      settings: { grants: ['password', 'authorization_code'], oidc: { redirectUris: [RP] }, identitySources: [SOURCE, `wrong-aud-${s}`, `wrong-nonce-${s}`, `down-${s}`] },
    });
    noIdpAppId = await createLoginClient(cluster, projectId, { name: 'plain-app', secret: SECRET, settings: { grants: ['authorization_code'], oidc: { redirectUris: [RP] } } });
    await eventually(
      async () => (await authorize(appId)).html,
      (html) => html.includes(`Sign in with ${SOURCE}`),
      { what: 'the client and its oidc sources to reach the Gateway', timeoutMs: 120_000 },
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    idp?.child.stdin.end();
    idp?.child.kill();
    await new Promise((resolve) => (hostile ? hostile.server.close(resolve) : resolve(undefined)));
  });

  /** Our OP's /authorize for a client, as its app would send it (openid-client); the login page in a fresh browser. */
  async function authorize(clientId: string) {
    const config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const browser = new Browser();
    const page = await browser.get(url.href);
    expect(page.status).toBe(200);
    return { config, verifier, state, nonce, browser, html: await page.text(), csp: page.headers.get('content-security-policy') ?? '' };
  }

  /** Presses "Sign in with <source>" (or posts a made-up source): the Gateway's answer. */
  async function pressButton(flow: Awaited<ReturnType<typeof authorize>>, source: string): Promise<Response> {
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(flow.html)![1];
    return flow.browser.postForm(`${issuer}/external/start`, { transaction: field('transaction'), csrf: field('csrf'), source });
  }

  /** From the login page to the Gateway's callback URL the IdP sends the browser to. */
  async function throughIdp(login: string, clientId = appId) {
    const flow = await authorize(clientId);
    const started = await pressButton(flow, SOURCE);
    expect(started.status).toBe(303);
    const at = new URL(locationOf(started, issuer));
    expect(at.origin).toBe(idp.issuer);
    expect(Object.fromEntries(at.searchParams)).toMatchObject({ client_id: 'idm-gateway', response_type: 'code', code_challenge_method: 'S256' });
    expect(at.searchParams.get('state')).toBeTruthy();
    expect(at.searchParams.get('nonce')).toBeTruthy();
    return { flow, callback: await loginAtIdp(flow.browser, idp.issuer, at.href, login) };
  }

  it('offers "Sign in with" only for the oidc sources the client lists, and lets the page’s forms reach the IdP (CSP form-action)', async () => {
    const flow = await authorize(appId);
    expect(flow.html).toContain(`Sign in with ${SOURCE}`);
    expect(flow.html).not.toContain(`unlisted-${s}`);
    expect(flow.csp).toContain(idp.issuer);
    const plain = await authorize(noIdpAppId);
    expect(plain.html).not.toContain('Sign in with');
  });

  it('signs a user in through the IdP: provisioned just in time, linked to the source, our ID token names that end user', async () => {
    expect(await endUser('alice')).toBeUndefined();
    const { flow, callback } = await throughIdp('alice');
    expect(callback.startsWith(`${issuer}/external/callback?`)).toBe(true);
    const done = await flow.browser.get(callback);
    expect(done.status).toBe(303);
    const back = new URL(locationOf(done, issuer));
    expect(back.origin + back.pathname).toBe(RP);
    const tokens = await oidc.authorizationCodeGrant(flow.config, back, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const alice = await endUser('alice');
    expect(alice).toMatchObject({ hasPassword: false, email: 'alice@idp.example', name: 'IdP alice', roles: ['reader'], identitySource: { id: sourceId, name: SOURCE } });
    expect(tokens.claims()!.sub).toBe(alice!.id);
    const info = await oidc.fetchUserInfo(flow.config, tokens.access_token, alice!.id);
    expect(info).toMatchObject({ preferred_username: 'alice', email: 'alice@idp.example' });

    // Replaying the IdP's callback (its state is spent) signs no one in again.
    const replay = await flow.browser.get(callback);
    expect(replay.status).toBe(400);
    expect(errorCodeOf(await replay.text())).toBe('login_expired');

    // A second sign-in uses the same end user.
    const again = await throughIdp('alice');
    expect((await again.flow.browser.get(again.callback)).status).toBe(303);
    expect((await endUsers()).filter((u) => u.username === 'alice')).toHaveLength(1);
  });

  it('refuses a callback with a state it never sent, and one carried to another browser (no 500, nobody signed in)', async () => {
    const { flow, callback } = await throughIdp('carol');
    const forged = new URL(callback);
    forged.searchParams.set('state', randomBytes(16).toString('base64url'));
    const mismatch = await flow.browser.get(forged.href);
    expect(mismatch.status).toBe(400);
    expect(errorCodeOf(await mismatch.text())).toBe('login_expired');
    // The genuine callback, opened by a browser that did not start the login (no CSRF cookie of the transaction).
    const elsewhere = await new Browser().get(callback);
    expect(elsewhere.status).toBe(403);
    expect(errorCodeOf(await elsewhere.text())).toBe('csrf_failed');
    expect(await endUser('carol')).toBeUndefined();
  });

  it.each([
    ['wrong-aud', 'an ID token for another audience'],
    ['wrong-nonce', 'an ID token with another nonce'],
  ])('refuses %s (%s): idp_id_token_invalid, nobody provisioned', async (mode) => {
    const flow = await authorize(appId);
    const started = await pressButton(flow, `${mode}-${s}`);
    expect(started.status).toBe(303);
    const back = await fetch(locationOf(started, issuer), { redirect: 'manual' });
    const done = await flow.browser.get(locationOf(back, hostile.base));
    expect(done.status).toBe(401);
    expect(errorCodeOf(await done.text())).toBe('idp_id_token_invalid');
    expect(await endUser('mallory')).toBeUndefined();
  });

  it('refuses an IdP account without the required claim (email_verified): idp_claims_refused', async () => {
    const { flow, callback } = await throughIdp('out-eve');
    const done = await flow.browser.get(callback);
    expect(done.status).toBe(403);
    expect(errorCodeOf(await done.text())).toBe('idp_claims_refused');
    expect(await endUser('out-eve')).toBeUndefined();
  });

  it('never lets the IdP take over a local end user of the same name', async () => {
    const { flow, callback } = await throughIdp('bob');
    const done = await flow.browser.get(callback);
    expect(done.status).toBe(403);
    expect(errorCodeOf(await done.text())).toBe('account_refused');
    expect(await endUser('bob')).toMatchObject({ hasPassword: true, identitySource: null });
  });

  it('refuses a source the client does not list (or one that is not an IdP) with source_not_allowed', async () => {
    for (const source of [`unlisted-${s}`, 'no-such-source']) {
      const flow = await authorize(appId);
      const res = await pressButton(flow, source);
      expect({ source, status: res.status, code: errorCodeOf(await res.text()) }).toEqual({ source, status: 400, code: 'source_not_allowed' });
    }
    const plain = await authorize(noIdpAppId);
    const res = await pressButton(plain, SOURCE);
    expect(res.status).toBe(400);
    expect(errorCodeOf(await res.text())).toBe('source_not_allowed');
  });

  it('shows a clear error page when the IdP is down (503 idp_unavailable, no 500)', async () => {
    const flow = await authorize(appId);
    const res = await pressButton(flow, `down-${s}`);
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(errorCodeOf(html)).toBe('idp_unavailable');
    expect(html).toContain('cannot be reached');
  });

  it('refuses the password grant for users only an IdP knows, with the reason (no_password_source)', async () => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${appId}:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'anything' }).toString(),
    });
    const body = (await res.json()) as Record<string, string>;
    expect(res.status).toBe(400);
    expect(body.error).toBe('invalid_grant');
    expect(body.error_description).toContain('no_password_source');
  });

  describe('Manager validation of oidc sources', () => {
    const config = (extra: Record<string, unknown> = {}) => ({ issuer: idp.issuer, clientId: 'c', ...extra });

    it('refuses an issuer that is not https (or loopback http), scopes without openid and a bad claim name (400)', async () => {
      for (const [what, body, field] of [
        ['plain http to a remote host', config({ issuer: 'http://idp.example.com' }), 'config.issuer'],
        ['credentials in the issuer', config({ issuer: 'https://user:pw@idp.example.com' }), 'config.issuer'],
        ['no openid scope', config({ scopes: ['email'] }), 'config.scopes'],
        ['a claim name with spaces', config({ claims: { username: 'user name' } }), 'config.claims.username'],
        ['an unknown field', config({ tokenEndpoint: 'https://x' }), 'config'],
      ] as const) {
        const refused = await createSource({ name: `bad-${randomBytes(3).toString('hex')}`, type: 'oidc', projectId, config: body }).then(
          () => 'created',
          (err: Error) => err.message,
        );
        expect({ what, refused }).toEqual({ what, refused: expect.stringMatching(new RegExp(`-> 400 .*validation_failed.*"path":"${field.replace(/\./g, '\\.')}`)) });
      }
    });

    it('refuses a clientSecretId that is unknown, not a shared-secret, or given to a System source (422 secret_not_usable), nothing written', async () => {
      const name = `refs-${s}`;
      const key = await cluster.admin.call('POST', `/api/v1/projects/${projectId}/secrets`, {
        name: `pem-${s}`,
        kind: 'public-key',
        material: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      });
      await expect(createSource({ name, type: 'oidc', projectId, config: config({ clientSecretId: '00000000-0000-4000-8000-000000000000' }) })).rejects.toThrow(
        /422.*secret_not_usable/,
      );
      await expect(createSource({ name, type: 'oidc', projectId, config: config({ clientSecretId: key.id }) })).rejects.toThrow(/422.*secret_not_usable/);
      await expect(createSource({ name, type: 'oidc', config: config({ clientSecretId: key.id }) })).rejects.toThrow(/422.*secret_not_usable/);
      const all = (await cluster.admin.call('GET', '/api/v1/identity-sources')) as Array<{ name: string }>;
      expect(all.map((x) => x.name)).not.toContain(name);
    });

    it('keeps oidc sources out of password-checking policies (422 identity_source_not_usable) and never answers the client secret', async () => {
      await expect(
        cluster.admin.proxies.create(projectId, {
          name: `basic-${s}`,
          basePath: `/basic-${s}`,
          upstreamUrl: cluster.echoUrl,
          policies: [{ type: 'basic-auth', config: { identitySources: [SOURCE] } }],
        }),
      ).rejects.toThrow(/422.*identity_source_not_usable.*checks no password/);
      const listed = JSON.stringify(await cluster.admin.call('GET', '/api/v1/identity-sources'));
      expect(listed).not.toContain(IDP_CLIENT_SECRET);
      expect(listed).not.toContain(Buffer.from(IDP_CLIENT_SECRET).toString('base64url'));
    });

    it('tests the connection of an oidc source (its discovery answers) and reports one that is down', async () => {
      const ok = await cluster.admin.call('POST', `/api/v1/identity-sources/${sourceId}/test`, {});
      expect(ok).toMatchObject({ ok: true, step: 'connection', outcome: 'reachable' });
      const all = (await cluster.admin.call('GET', '/api/v1/identity-sources')) as Array<{ id: string; name: string }>;
      const down = all.find((x) => x.name === `down-${s}`)!;
      const failed = await cluster.admin.call('POST', `/api/v1/identity-sources/${down.id}/test`, {});
      expect(failed).toMatchObject({ ok: false, outcome: 'unavailable' });
    });
  });
});
