import { createHash, generateKeyPairSync, randomUUID, sign, webcrypto, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { eventually, type AppProcess } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';

/**
 * The Gateway as OpenID Provider (issue #15 §2) on a Manager and two Gateway processes (one fleet
 * behind the first one's URL): `openid-client` as the relying party for the whole authorization
 * code flow with PKCE, the login form driven over HTTP with a cookie jar, the SSO session valid
 * on the other Gateway (it lives in Redis), and the hostile cases: unregistered or altered
 * redirect URIs (never redirected to), implicit/hybrid refused, PKCE missing, downgraded or wrong,
 * a replayed code (refused, and the token issued from it revoked), the login form without its
 * CSRF cookie or token, generic login errors, clickjacking headers, and logout's open redirect.
 * Every login attempt is an auth record (issue #17): found through the Manager's analytics API.
 */
describe('OpenID Provider (/credential) with openid-client, a Manager and two Gateways', () => {
  const ENV = 'oidc-op';
  const SECRET = 'web-app-client-secret';
  const RP = 'https://rp.example/cb';
  const SPA = 'http://127.0.0.1:7777/cb';
  const BYE = 'https://rp.example/bye';
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let projectId: string;
  let issuer: string;
  let webAppId: string;
  let spaId: string;
  let askingId: string;
  let signedId: string;
  let signed: oidc.Configuration;
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let asking: oidc.Configuration;
  let alice: { id: string };
  let web: oidc.Configuration;
  let spa: oidc.Configuration;

  /** A browser's cookie jar, per origin-less name (both Gateways are one site here, as behind a load balancer). */
  class Browser {
    readonly cookies = new Map<string, string>();
    lastSetCookies: string[] = [];
    async go(url: string, init: RequestInit = {}): Promise<Response> {
      const headers = new Headers(init.headers);
      if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
      const res = await fetch(url, { ...init, headers, redirect: 'manual' });
      this.lastSetCookies = res.headers.getSetCookie();
      for (const line of this.lastSetCookies) {
        const [pair, ...attributes] = line.split(';');
        const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
        if (attributes.some((a) => /max-age=0/i.test(a.trim()))) this.cookies.delete(name);
        else this.cookies.set(name, value);
      }
      return res;
    }
    /** Opens the authorization URL (on `via`, another Gateway of the fleet, when given) and submits the login form. */
    async login(authorizationUrl: string, username: string, password: string, via?: string): Promise<Response> {
      const page = await this.go(rebase(authorizationUrl, via));
      expect(page.status).toBe(200);
      const form = formOf(await page.text());
      return this.go(rebase(form.action, via), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ transaction: form.transaction, csrf: form.csrf, username, password }).toString(),
      });
    }
  }
  const rebase = (url: string, via?: string) => (via ? via + new URL(url).pathname + new URL(url).search : url);
  const formOf = (html: string) => {
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
    return { action: /<form method="post" action="([^"]+)"/.exec(html)![1], transaction: field('transaction'), csrf: field('csrf') };
  };
  const start = async (config: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    return { url: url.toString(), verifier, state, nonce };
  };
  const redeem = (config: oidc.Configuration, location: string, flow: { verifier: string; state: string; nonce: string }) =>
    oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
  const tokenCall = async (fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const basic = `Basic ${Buffer.from(`${'placeholder'}:x`).toString('base64')}`;
  const webBasic = () => `Basic ${Buffer.from(`${webAppId}:${SECRET}`).toString('base64')}`;
  const codeOf = (location: string) => new URL(location).searchParams.get('code')!;
  /** Every Gateway's /userinfo refuses each access token (a revocation reaches them over Redis). */
  const refusedEverywhere = async (accessTokens: string[], what: string) => {
    for (const g of gateways)
      for (const token of accessTokens)
        await eventually(
          () => fetch(`${g.baseUrl}/credential/userinfo`, { headers: { authorization: `Bearer ${token}` } }),
          (r) => r.status === 401,
          { what: `${g.name} refuses ${what}` },
        );
  };
  /** A fresh login of alice through the web app: its code (not redeemed) and the flow's PKCE values. */
  const freshCode = async (browser = new Browser()) => {
    const flow = await start(web, RP);
    const done = await browser.login(flow.url, 'alice', 'alice-password-1');
    expect(done.status).toBe(303);
    return { ...flow, location: done.headers.get('location')!, browser };
  };

  beforeAll(async () => {
    // The Manager indexes the Gateways' auth records itself (no separate indexer): the login records are read back through its analytics API.
    cluster = await startCluster({ environment: ENV, managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0', AUTH_RECORDS_INDEXER: 'on' } });
    ({ gateways, admin } = cluster);
    issuer = `${gateways[0].baseUrl}/credential`;
    const env = await admin.environments.named(ENV);
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
    projectId = (await admin.projects.create({ name: 'oidc-op' })).id;
    // A deployed proxy makes the project's credentials (clients and users) visible to the environment.
    await admin.proxies.create(projectId, { name: 'orders', basePath: '/orders', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'jwt-auth', config: {} }] });
    alice = await admin.endUsers.create(projectId, {
      username: 'alice',
      password: 'alice-password-1',
      email: 'alice@example.com',
      emailVerified: true,
      name: 'Alice Liddell',
      givenName: 'Alice',
      locale: 'en-GB',
    });
    await admin.endUsers
      .create(projectId, { username: 'locked-lou', password: 'lou-password-1', email: 'lou@example.com' })
      .then((u) => admin.endUsers.update(projectId, u.id, { locked: true }));
    await admin.credentials.create(projectId, { username: 'robot', password: 'robot-password-1', issueApiKey: false });
    webAppId = (await admin.credentials.create(projectId, { username: 'web-app', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, webAppId, {
      grants: ['authorization_code'],
      accessTokenLifetime: { amount: 5, unit: 'minutes' },
      oidc: { redirectUris: [RP], postLogoutRedirectUris: [BYE] },
    });
    spaId = (await admin.credentials.create(projectId, { username: 'spa', issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, spaId, {
      grants: ['authorization_code', 'refresh_token'],
      refreshAllowed: true,
      oidc: { clientType: 'public', tokenEndpointAuthMethod: 'none', redirectUris: [SPA] },
    });
    // A third-party client: the user is asked before it gets anything.
    askingId = (await admin.credentials.create(projectId, { username: 'third-party', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, askingId, {
      grants: ['authorization_code', 'refresh_token'],
      refreshAllowed: true,
      oidc: { redirectUris: [RP], consentRequired: true },
    });
    asking = await oidc.discovery(new URL(issuer), askingId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    // A confidential client without a secret: it signs client assertions with its own key (private_key_jwt).
    signedId = (await admin.credentials.create(projectId, { username: 'signed-app', issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, signedId, {
      grants: ['authorization_code'],
      oidc: { redirectUris: [RP], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ ...signingKey.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig' }] } },
    });
    const cryptoKey = await webcrypto.subtle.importKey('pkcs8', signingKey.privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ]);
    signed = await oidc.discovery(new URL(issuer), signedId, undefined, oidc.PrivateKeyJwt({ key: cryptoKey, kid: 'k1' }), { execute: [oidc.allowInsecureRequests] });
    web = await oidc.discovery(new URL(issuer), webAppId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    spa = await oidc.discovery(new URL(issuer), spaId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const probe = await start(asking, RP);
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => fetch(rebase(probe.url, g.baseUrl)),
          (r) => r.status === 200,
          { what: `${g.name} knows the OIDC client` },
        ),
      ),
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('publishes discovery consistent with what is implemented', async () => {
    const meta = web.serverMetadata();
    expect(meta).toMatchObject({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/userinfo`,
      end_session_endpoint: `${issuer}/logout`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      id_token_signing_alg_values_supported: ['RS256'],
      authorization_response_iss_parameter_supported: true,
    });
  });

  it('runs the whole code flow with PKCE for a confidential client: ID token (nonce, auth_time, at_hash), userinfo, session cookie, last login', async () => {
    const browser = new Browser();
    const flow = await start(web, RP);
    const page = await browser.go(flow.url);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    const form = formOf(await page.text());
    const done = await browser.go(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ transaction: form.transaction, csrf: form.csrf, username: 'alice', password: 'alice-password-1' }).toString(),
    });
    expect(done.status).toBe(303);
    const session = browser.lastSetCookies.find((c) => c.startsWith('idm_sso='))!;
    expect(session).toMatch(/; Path=\/credential; HttpOnly; SameSite=Lax$/); // no Secure on plain http
    const location = done.headers.get('location')!;
    expect(location.startsWith(`${RP}?`)).toBe(true);
    expect(new URL(location).searchParams.get('iss')).toBe(issuer);
    const tokens = await redeem(web, location, flow);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: issuer, sub: alice.id, aud: webAppId, nonce: flow.nonce });
    expect(typeof claims.auth_time).toBe('number');
    expect(typeof claims.at_hash).toBe('string');
    const info = await oidc.fetchUserInfo(web, tokens.access_token, alice.id);
    expect(info).toMatchObject({
      sub: alice.id,
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Liddell',
      given_name: 'Alice',
      locale: 'en-GB',
      preferred_username: 'alice',
    });
    expect((await admin.endUsers.get(projectId, alice.id)).lastLoginAt).not.toBeNull();
  });

  it('keeps the SSO session in Redis: the other Gateway signs the user in without a form; prompt=none too; prompt=login asks again', async () => {
    const { browser } = await freshCode();
    const other = gateways[1].baseUrl;
    const silent = await start(web, RP, { prompt: 'none' });
    const answer = await browser.go(rebase(silent.url, other));
    expect(answer.status).toBe(303);
    const tokens = await redeem(web, answer.headers.get('location')!, silent);
    expect(tokens.claims()!.sub).toBe(alice.id);
    const again = await browser.go(rebase((await start(web, RP, { prompt: 'login' })).url, other));
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('name="password"');
    const stranger = await new Browser().go((await start(web, RP, { prompt: 'none', state: 'st-1' })).url);
    const refused = new URL(stranger.headers.get('location')!);
    expect(Object.fromEntries(refused.searchParams)).toMatchObject({ error: 'login_required', state: 'st-1', iss: issuer });
  });

  it('runs the flow for a public client with PKCE and refuses it without PKCE or with the plain method', async () => {
    const browser = new Browser();
    const flow = await start(spa, SPA);
    const done = await browser.login(flow.url, 'alice', 'alice-password-1');
    const tokens = await redeem(spa, done.headers.get('location')!, flow);
    expect(tokens.claims()!.aud).toBe(spaId);
    const noPkce = new URL(`${issuer}/authorize?${new URLSearchParams({ client_id: spaId, redirect_uri: SPA, response_type: 'code', scope: 'openid', state: 's' }).toString()}`);
    const refused = await browser.go(noPkce.toString());
    expect(Object.fromEntries(new URL(refused.headers.get('location')!).searchParams)).toMatchObject({ error: 'invalid_request', state: 's' });
    noPkce.searchParams.set('code_challenge', 'a'.repeat(43));
    noPkce.searchParams.set('code_challenge_method', 'plain');
    expect(new URL((await browser.go(noPkce.toString())).headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    // A public client cannot pass itself off with a secret, nor a confidential one without.
    const code = codeOf((await freshCode()).location);
    expect(await tokenCall({ grant_type: 'authorization_code', code, redirect_uri: RP, client_id: webAppId })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('never redirects to an unregistered redirect URI (exact match), an unknown client gets a page too', async () => {
    const flow = await start(web, RP);
    for (const bad of ['https://evil.example/cb', `${RP}/extra`, `${RP}?next=https://evil.example`, 'https://rp.example/CB', `${RP}#x`]) {
      const url = new URL(flow.url);
      url.searchParams.set('redirect_uri', bad);
      const res = await new Browser().go(url.toString());
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('invalid_redirect_uri');
    }
    const unknown = new URL(flow.url);
    unknown.searchParams.set('client_id', 'no-such-client');
    expect((await new Browser().go(unknown.toString())).status).toBe(400);
    // A machine credential without OIDC settings is no OIDC client.
    unknown.searchParams.set('client_id', 'robot');
    expect((await new Browser().go(unknown.toString())).status).toBe(400);
  });

  it('refuses the implicit and hybrid flows (no token in any redirect)', async () => {
    for (const responseType of ['token', 'id_token', 'code id_token', 'code token', 'id_token token']) {
      const url = new URL((await start(web, RP)).url);
      url.searchParams.set('response_type', responseType);
      const res = await new Browser().go(url.toString());
      expect(res.status).toBe(303);
      const location = res.headers.get('location')!;
      expect(new URL(location).searchParams.get('error')).toBe('unsupported_response_type');
      expect(location).not.toMatch(/access_token|id_token=/);
    }
  });

  it('binds codes to the PKCE verifier, the redirect URI and the client', async () => {
    const a = await freshCode();
    expect(await tokenCall({ grant_type: 'authorization_code', code: codeOf(a.location), redirect_uri: RP }, { authorization: webBasic() })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    const b = await freshCode();
    expect(
      await tokenCall(
        { grant_type: 'authorization_code', code: codeOf(b.location), redirect_uri: RP, code_verifier: oidc.randomPKCECodeVerifier() },
        { authorization: webBasic() },
      ),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const c = await freshCode();
    expect(
      await tokenCall(
        { grant_type: 'authorization_code', code: codeOf(c.location), redirect_uri: 'https://rp.example/other', code_verifier: c.verifier },
        { authorization: webBasic() },
      ),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Another client cannot redeem it, even a valid public one.
    const d = await freshCode();
    expect(await tokenCall({ grant_type: 'authorization_code', code: codeOf(d.location), redirect_uri: RP, code_verifier: d.verifier, client_id: spaId })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(await tokenCall({ grant_type: 'authorization_code', code: codeOf(d.location), redirect_uri: RP, code_verifier: d.verifier }, { authorization: basic })).toMatchObject({
      status: 401,
    });
  });

  it('refuses a replayed code and revokes the access token issued from it', async () => {
    const flow = await freshCode();
    const tokens = await redeem(web, flow.location, flow);
    expect((await oidc.fetchUserInfo(web, tokens.access_token, alice.id)).sub).toBe(alice.id);
    const replay = await tokenCall(
      { grant_type: 'authorization_code', code: codeOf(flow.location), redirect_uri: RP, code_verifier: flow.verifier },
      { authorization: webBasic() },
    );
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await refusedEverywhere([tokens.access_token], 'the token of a replayed code');
  });

  it('refuses the login form without its CSRF cookie or with a wrong token, and answers every bad login the same way', async () => {
    const browser = new Browser();
    const flow = await start(web, RP);
    const form = formOf(await (await browser.go(flow.url)).text());
    const submit = (b: Browser, fields: Record<string, string>) =>
      b.go(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    const noCookie = await submit(new Browser(), { transaction: form.transaction, csrf: form.csrf, username: 'alice', password: 'alice-password-1' });
    expect(noCookie.status).toBe(403);
    expect(await noCookie.text()).toContain('csrf_failed');
    const wrongToken = await submit(browser, { transaction: form.transaction, csrf: 'x'.repeat(43), username: 'alice', password: 'alice-password-1' });
    expect(wrongToken.status).toBe(403);
    const noToken = await submit(browser, { transaction: form.transaction, username: 'alice', password: 'alice-password-1' });
    expect(noToken.status).toBe(403);
    const texts = new Set<string>();
    for (const [username, password] of [
      ['alice', 'wrong-password'],
      ['nobody', 'alice-password-1'],
      ['robot', 'robot-password-1'],
      ['locked-lou', 'lou-password-1'],
    ]) {
      const res = await submit(browser, { transaction: form.transaction, csrf: form.csrf, username, password });
      expect(res.status).toBe(401);
      texts.add(/<p class="error" role="alert">([^<]*)<\/p>/.exec(await res.text())![1]);
    }
    expect([...texts]).toEqual(['Invalid username or password.']);
    // The transaction survives failures; the right password still completes it.
    const ok = await submit(browser, { transaction: form.transaction, csrf: form.csrf, username: 'alice', password: 'alice-password-1' });
    expect(ok.status).toBe(303);
    // ...exactly once.
    expect((await submit(browser, { transaction: form.transaction, csrf: form.csrf, username: 'alice', password: 'alice-password-1' })).status).toBe(400);
  });

  it('asks for consent once per client and scope: the consent form is bound to its browser and session, prompt=consent asks again, prompt=none cannot ask', async () => {
    const consentFormOf = (html: string) => ({ ...formOf(html), scopes: [...html.matchAll(/data-scope="([^"]+)"/g)].map((m) => m[1]) });
    const decide = (b: Browser, form: { action: string; transaction: string; csrf: string }, decision: string, csrf = form.csrf) =>
      b.go(form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ transaction: form.transaction, csrf, decision }).toString(),
      });
    const browser = new Browser();
    const flow = await start(asking, RP, { scope: 'openid email' });
    const asked = await browser.login(flow.url, 'alice', 'alice-password-1');
    expect(asked.status).toBe(200);
    // The page may send its form to the client's redirect (the answer is a redirect there), nowhere else.
    expect(asked.headers.get('content-security-policy')).toContain("form-action 'self' https://rp.example;");
    expect(asked.headers.get('x-frame-options')).toBe('DENY');
    const form = consentFormOf(await asked.text());
    expect(form.action).toBe(`${issuer}/consent`);
    expect(form.scopes).toEqual(['openid', 'email']);
    // Another browser (no CSRF cookie, no session), a wrong token, no decision, the login form again: refused, nothing granted.
    expect((await decide(new Browser(), form, 'allow')).status).toBe(403);
    expect((await decide(browser, form, 'allow', 'y'.repeat(43))).status).toBe(403);
    const stranger = new Browser();
    stranger.cookies.set('idm_csrf', browser.cookies.get('idm_csrf')!);
    expect(await (await decide(stranger, form, 'allow')).text()).toContain('login_expired');
    expect((await decide(browser, form, 'maybe')).status).toBe(400);
    const relogin = await browser.go(`${issuer}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ transaction: form.transaction, csrf: form.csrf, username: 'alice', password: 'alice-password-1' }).toString(),
    });
    expect(relogin.status).toBe(400);
    const allowed = await decide(browser, form, 'allow');
    expect(allowed.status).toBe(303);
    const tokens = await redeem(asking, allowed.headers.get('location')!, flow);
    expect(tokens.claims()!.aud).toBe(askingId);
    // The transaction is spent.
    expect((await decide(browser, form, 'allow')).status).toBe(400);
    // The same scopes again: no page. A scope not agreed to yet: asked for that one only; prompt=none cannot ask.
    expect((await browser.go((await start(asking, RP, { scope: 'openid email' })).url)).status).toBe(303);
    const silent = await browser.go((await start(asking, RP, { prompt: 'none', state: 'st-2' })).url);
    expect(Object.fromEntries(new URL(silent.headers.get('location')!).searchParams)).toMatchObject({ error: 'consent_required', state: 'st-2', iss: issuer });
    const more = await browser.go((await start(asking, RP)).url);
    expect(consentFormOf(await more.text()).scopes).toEqual(['profile']);
    // prompt=consent asks even a first-party client, for every scope; a denial is access_denied with state.
    const forced = await browser.go((await start(web, RP, { prompt: 'consent', state: 'st-3' })).url);
    const forcedForm = consentFormOf(await forced.text());
    expect(forcedForm.scopes).toEqual(['openid', 'profile', 'email']);
    const denied = await decide(browser, forcedForm, 'deny');
    expect(Object.fromEntries(new URL(denied.headers.get('location')!).searchParams)).toMatchObject({ error: 'access_denied', state: 'st-3', iss: issuer });
  });

  it("lists the user's consents on their page and revokes one only with the page's CSRF token", async () => {
    const browser = new Browser();
    const flow = await start(asking, RP, { scope: 'openid' });
    const signedIn = await browser.login(flow.url, 'alice', 'alice-password-1');
    // Asked unless an earlier test's consent still covers openid.
    if (signedIn.status === 200) {
      const form = formOf(await signedIn.text());
      const allowed = await browser.go(form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ transaction: form.transaction, csrf: form.csrf, decision: 'allow' }).toString(),
      });
      expect(allowed.status).toBe(303);
    } else expect(signedIn.status).toBe(303);
    expect((await new Browser().go(`${issuer}/consents`)).status).toBe(401);
    const page = await browser.go(`${issuer}/consents`);
    const html = await page.text();
    expect(html).toContain('Revoke access of third-party');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
    const revoke = (token: string) =>
      browser.go(`${issuer}/consents`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: token, client_id: askingId }).toString(),
      });
    expect((await revoke('z'.repeat(43))).status).toBe(403);
    expect((await browser.go((await start(asking, RP, { scope: 'openid' })).url)).status).toBe(303);
    expect(await (await revoke(csrf)).text()).toContain('Access revoked.');
    const asked = await browser.go((await start(asking, RP, { scope: 'openid' })).url);
    expect(asked.status).toBe(200);
    // Agreed again, then revoked by an administrator through the Manager: asked again too.
    const form = formOf(await asked.text());
    const body = new URLSearchParams({ transaction: form.transaction, csrf: form.csrf, decision: 'allow' }).toString();
    expect((await browser.go(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })).status).toBe(303);
    expect(await admin.call('GET', `/api/v1/projects/${projectId}/users/${alice.id}/consents`)).toContainEqual({ environment: ENV, clientId: askingId, scopes: ['openid'] });
    await admin.call('DELETE', `/api/v1/projects/${projectId}/users/${alice.id}/consents/${askingId}`);
    expect((await browser.go((await start(asking, RP, { scope: 'openid' })).url)).status).toBe(200);
  });

  it('issues refresh tokens for offline_access only to clients that may refresh; they rotate, and a reused one revokes its whole family', async () => {
    // The web app may not refresh: offline_access is ignored (OIDC Core §11), no refresh token.
    const plain = await freshCode();
    const noRefresh = await tokenCall(
      { grant_type: 'authorization_code', code: codeOf(plain.location), redirect_uri: RP, code_verifier: plain.verifier },
      { authorization: webBasic() },
    );
    expect(noRefresh.body.refresh_token).toBeUndefined();
    const ignored = await start(web, RP, { scope: 'openid offline_access' });
    const ignoredDone = await new Browser().login(ignored.url, 'alice', 'alice-password-1');
    expect((await redeem(web, ignoredDone.headers.get('location')!, ignored)).scope).toBe('openid');
    // The SPA (public, no secret) may: the code grant answers a refresh token.
    const flow = await start(spa, SPA, { scope: 'openid email offline_access' });
    const done = await new Browser().login(flow.url, 'alice', 'alice-password-1');
    const first = await redeem(spa, done.headers.get('location')!, flow);
    expect(first.refresh_token).toMatch(/^idm_rt_/);
    expect(first.scope).toBe('openid email offline_access');
    const second = await oidc.refreshTokenGrant(spa, first.refresh_token!);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await oidc.fetchUserInfo(spa, second.access_token, alice.id)).email).toBe('alice@example.com');
    // A narrower scope is fine, a wider one is invalid_scope; another client cannot use it at all.
    expect(await tokenCall({ grant_type: 'refresh_token', refresh_token: second.refresh_token!, client_id: spaId, scope: 'openid profile' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_scope' },
    });
    expect(await tokenCall({ grant_type: 'refresh_token', refresh_token: second.refresh_token! }, { authorization: webBasic() })).toMatchObject({
      status: 400,
      body: { error: 'unauthorized_client' },
    });
    const askingBasic = `Basic ${Buffer.from(`${askingId}:${SECRET}`).toString('base64')}`;
    expect(await tokenCall({ grant_type: 'refresh_token', refresh_token: second.refresh_token! }, { authorization: askingBasic })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(await tokenCall({ grant_type: 'refresh_token', client_id: spaId })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    // The first refresh token is spent: presenting it again revokes the family, so the current one dies too.
    expect(await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: spaId })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant', error_description: expect.stringContaining('already used') },
    });
    expect(await tokenCall({ grant_type: 'refresh_token', refresh_token: second.refresh_token!, client_id: spaId })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    // The JWT access tokens of the family go with it, on every Gateway (they are verified offline: the revocation list carries them).
    await refusedEverywhere([first.access_token, second.access_token], 'the access tokens of a reused refresh family');
  });

  it('revokes every token issued from a replayed code: the access token, the refresh token and the access tokens refreshed from it', async () => {
    const flow = await start(spa, SPA, { scope: 'openid email offline_access' });
    const done = await new Browser().login(flow.url, 'alice', 'alice-password-1');
    const location = done.headers.get('location')!;
    const first = await redeem(spa, location, flow);
    const refreshed = await oidc.refreshTokenGrant(spa, first.refresh_token!);
    expect((await oidc.fetchUserInfo(spa, refreshed.access_token, alice.id)).sub).toBe(alice.id);
    const replay = await tokenCall({ grant_type: 'authorization_code', code: codeOf(location), redirect_uri: SPA, code_verifier: flow.verifier, client_id: spaId });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await tokenCall({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token!, client_id: spaId })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    await refusedEverywhere([first.access_token, refreshed.access_token], "the access tokens of a replayed code's grant");
  });

  it("answers a new ID token on refresh of an openid grant (OIDC Core §12.2): same subject, the login's auth_time, new iat and exp, no nonce", async () => {
    const flow = await start(spa, SPA, { scope: 'openid email offline_access' });
    const done = await new Browser().login(flow.url, 'alice', 'alice-password-1');
    const first = await redeem(spa, done.headers.get('location')!, flow);
    const original = first.claims()!;
    expect(original.nonce).toBe(flow.nonce);
    await eventually(
      async () => Math.floor(Date.now() / 1000),
      (t) => t > original.iat,
      { what: 'a second after the code grant' },
    );
    // openid-client checks the new ID token's signature, iss, aud, exp and that its sub is the original one.
    const refreshed = await oidc.refreshTokenGrant(spa, first.refresh_token!);
    const claims = refreshed.claims()!;
    expect(claims).toMatchObject({ iss: issuer, sub: alice.id, aud: spaId, auth_time: original.auth_time });
    expect(claims.nonce).toBeUndefined();
    expect(claims.iat).toBeGreaterThan(original.iat);
    expect(claims.exp).toBeGreaterThan(original.exp);
    // at_hash names the new access token, not the first one.
    const digest = createHash('sha256').update(refreshed.access_token).digest();
    expect(claims.at_hash).toBe(digest.subarray(0, 16).toString('base64url'));
    expect(claims.at_hash).not.toBe(original.at_hash);
    // A narrower access token (without openid) still comes with the ID token of the openid grant.
    const narrowed = await tokenCall({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token!, client_id: spaId, scope: 'email' });
    expect(narrowed).toMatchObject({ status: 200, body: { scope: 'email', id_token: expect.any(String) } });
    const narrowedClaims = JSON.parse(Buffer.from(String(narrowed.body.id_token).split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    expect(narrowedClaims).toMatchObject({ sub: alice.id, aud: spaId, auth_time: original.auth_time });
    // A refused refresh (spent token: the family is revoked) answers no ID token.
    const spent = await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: spaId });
    expect(spent).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(spent.body.id_token).toBeUndefined();
  });

  it('prefills the login form with login_hint, escaped; refuses a hint with control characters or longer than a username', async () => {
    const hinted = await new Browser().go((await start(web, RP, { login_hint: 'alice' })).url);
    expect(await hinted.text()).toContain('name="username" autocomplete="username" required value="alice"');
    const hostile = '"><script>alert(1)</script><input name="x" value="';
    const page = await (await new Browser().go((await start(web, RP, { login_hint: hostile })).url)).text();
    expect(page).not.toContain('<script>');
    expect(page).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;input name=&quot;x&quot; value=&quot;"');
    expect(page.match(/<input /g)).toHaveLength(4); // transaction, csrf, username, password: the hint added none
    // The hint is only a hint: the user signs in as whoever they type.
    const flow = await start(web, RP, { login_hint: 'someone-else' });
    const done = await new Browser().login(flow.url, 'alice', 'alice-password-1');
    expect((await redeem(web, done.headers.get('location')!, flow)).claims()!.sub).toBe(alice.id);
    for (const bad of ['a\u0000b', 'line\nbreak', 'x'.repeat(129)]) {
      const res = await new Browser().go((await start(web, RP, { login_hint: bad, state: 'st-hint' })).url);
      expect(res.status).toBe(303);
      expect(Object.fromEntries(new URL(res.headers.get('location')!).searchParams)).toMatchObject({ error: 'invalid_request', state: 'st-hint' });
    }
    const twice = new URL((await start(web, RP)).url);
    twice.searchParams.append('login_hint', 'a');
    twice.searchParams.append('login_hint', 'b');
    expect((await new Browser().go(twice.toString())).status).toBe(400);
  });

  it('asks for the password again when the session is older than max_age, and says auth_time', async () => {
    const { browser } = await freshCode();
    // Within max_age: no form, and the ID token's auth_time is the login's.
    const recent = await start(web, RP, { max_age: '3600' });
    const silent = await browser.go(recent.url);
    expect(silent.status).toBe(303);
    const authTime = (await redeem(web, silent.headers.get('location')!, recent)).claims()!.auth_time!;
    // max_age=0: the login is always too old; prompt=none cannot show the form.
    await eventually(
      async () => Math.floor(Date.now() / 1000),
      (t) => t > authTime,
      { what: 'a second after the login' },
    );
    expect((await browser.go((await start(web, RP, { max_age: '0' })).url)).status).toBe(200);
    const none = await browser.go((await start(web, RP, { max_age: '0', prompt: 'none' })).url);
    expect(new URL(none.headers.get('location')!).searchParams.get('error')).toBe('login_required');
    const fresh = await start(web, RP, { max_age: '0' });
    const again = await browser.login(fresh.url, 'alice', 'alice-password-1');
    expect((await redeem(web, again.headers.get('location')!, fresh)).claims()!.auth_time).toBeGreaterThan(authTime);
    for (const bad of ['-1', 'soon', '1e3']) {
      const res = await browser.go((await start(web, RP, { max_age: bad, state: 'st-4' })).url);
      expect(Object.fromEntries(new URL(res.headers.get('location')!).searchParams)).toMatchObject({ error: 'invalid_request', state: 'st-4' });
    }
  });

  it('authenticates a private_key_jwt client by its signed assertion (RFC 7523): each rule of the assertion enforced, each jti once', async () => {
    const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const assertion = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: KeyObject = signingKey.privateKey) => {
      const now = Math.floor(Date.now() / 1000);
      const input = `${segment({ alg: 'ES256', kid: 'k1', ...header })}.${segment({ iss: signedId, sub: signedId, aud: `${issuer}/token`, exp: now + 60, iat: now, jti: randomUUID(), ...claims })}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    // openid-client signs its own assertion: the whole flow works.
    const flow = await start(signed, RP);
    const done = await new Browser().login(flow.url, 'alice', 'alice-password-1');
    expect((await redeem(signed, done.headers.get('location')!, flow)).claims()!.aud).toBe(signedId);
    // Hand-made assertions against one fresh code (client authentication comes before the code is spent).
    const next = await start(signed, RP);
    const location = (await new Browser().login(next.url, 'alice', 'alice-password-1')).headers.get('location')!;
    const exchange = (clientAssertion: string, extra: Record<string, string> = {}) =>
      tokenCall({
        grant_type: 'authorization_code',
        code: codeOf(location),
        redirect_uri: RP,
        code_verifier: next.verifier,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
        ...extra,
      });
    const now = Math.floor(Date.now() / 1000);
    const hs256 = (() => {
      const input = `${segment({ alg: 'HS256', kid: 'k1' })}.${segment({ iss: signedId, sub: signedId, aud: `${issuer}/token`, exp: now + 60, jti: randomUUID() })}`;
      return `${input}.${createHash('sha256').update(input).digest('base64url')}`;
    })();
    for (const [what, bad] of [
      ['another key', assertion({}, {}, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)],
      ['alg none', `${segment({ alg: 'none' })}.${segment({ iss: signedId, sub: signedId, aud: `${issuer}/token`, exp: now + 60, jti: 'x' })}.`],
      ['HS256', hs256],
      ['another audience', assertion({ aud: 'https://other.example/token' })],
      ['expired', assertion({ exp: now - 120 })],
      ['valid for an hour', assertion({ exp: now + 3600 })],
      ['iss other than sub', assertion({ iss: webAppId })],
      ['no jti', assertion({ jti: undefined })],
    ] as const) {
      const answer = await exchange(bad);
      expect({ what, ...answer }).toMatchObject({ what, status: 401, body: { error: 'invalid_client' } });
    }
    expect(await exchange(assertion(), { client_assertion_type: 'urn:example:other' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect((await tokenCall({ grant_type: 'authorization_code', code: codeOf(location), redirect_uri: RP, code_verifier: next.verifier }, { authorization: basic })).status).toBe(
      401,
    );
    const good = assertion();
    const mixed = await tokenCall(
      {
        grant_type: 'authorization_code',
        code: codeOf(location),
        redirect_uri: RP,
        code_verifier: next.verifier,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: good,
      },
      { authorization: webBasic() },
    );
    expect(mixed).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await exchange(good)).toMatchObject({ status: 200, body: { token_type: 'Bearer' } });
    // The same assertion again: its jti is spent (on every Gateway: it is in Redis).
    const again = await fetch(`${gateways[1].baseUrl}/credential/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: codeOf(location),
        redirect_uri: RP,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: good,
      }).toString(),
    });
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error_description: string }).error_description).toContain('jti');
    // A client secret method is not accepted for it either.
    expect(signed.serverMetadata().token_endpoint_auth_methods_supported).toContain('private_key_jwt');
  });

  it("takes a private_key_jwt client's keys from its jwksUri: cached, an unknown kid refetches at most once per interval, no redirect followed, an endpoint down or too large is 503", async () => {
    const remoteKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const served = { keys: [{ ...remoteKey.publicKey.export({ format: 'jwk' }), kid: 'remote-1', use: 'sig', alg: 'ES256' }] };
    const hits = new Map<string, number>();
    const server = createServer((req, res) => {
      hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
      if (req.url === '/jwks') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
      if (req.url === '/moved') return res.writeHead(302, { location: '/jwks' }).end();
      if (req.url === '/huge') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served.keys, padding: 'x'.repeat(300 * 1024) }));
      res.writeHead(404).end();
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    // A port nothing listens on: the client's key server is down.
    const closed = createServer();
    await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
    const downPort = (closed.address() as AddressInfo).port;
    await new Promise((stopped) => closed.close(stopped));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const clientWith = async (name: string, jwksUri: string) => {
        const id = (await admin.credentials.create(projectId, { username: name, issueApiKey: false })).id;
        await admin.credentials.putTokenSettings(projectId, id, {
          grants: ['authorization_code'],
          oidc: { redirectUris: [RP], tokenEndpointAuthMethod: 'private_key_jwt', jwksUri },
        });
        await eventually(
          () =>
            fetch(
              `${issuer}/authorize?${new URLSearchParams({ client_id: id, redirect_uri: RP, response_type: 'code', scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })}`,
            ),
          (r) => r.status === 200,
          { what: `the Gateway knows ${name}` },
        );
        return id;
      };
      const remoteId = await clientWith('remote-keys', `${base}/jwks`);
      const movedId = await clientWith('moved-keys', `${base}/moved`);
      const hugeId = await clientWith('huge-keys', `${base}/huge`);
      const downId = await clientWith('down-keys', `http://127.0.0.1:${downPort}/jwks`);
      const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const assertion = (clientId: string, kid: string, key: KeyObject = remoteKey.privateKey) => {
        const now = Math.floor(Date.now() / 1000);
        const input = `${segment({ alg: 'ES256', kid })}.${segment({ iss: clientId, sub: clientId, aud: `${issuer}/token`, exp: now + 60, iat: now, jti: randomUUID() })}`;
        return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
      };
      // Client authentication comes before the code: a made-up code is invalid_grant once the client is authenticated.
      const authenticate = (clientId: string, clientAssertion: string) =>
        tokenCall({
          grant_type: 'authorization_code',
          code: 'not-a-code',
          redirect_uri: RP,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        });
      // An unknown kid before anything is cached: the first fetch happens, the kid is still unknown.
      expect(await authenticate(remoteId, assertion(remoteId, 'not-published'))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
      expect(hits.get('/jwks')).toBe(1);
      // openid-client signs with the published key: the whole flow works, from the cached set.
      const cryptoKey = await webcrypto.subtle.importKey('pkcs8', remoteKey.privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
        'sign',
      ]);
      const remote = await oidc.discovery(new URL(issuer), remoteId, undefined, oidc.PrivateKeyJwt({ key: cryptoKey, kid: 'remote-1' }), { execute: [oidc.allowInsecureRequests] });
      const flow = await start(remote, RP);
      const done = await new Browser().login(flow.url, 'alice', 'alice-password-1');
      expect((await redeem(remote, done.headers.get('location')!, flow)).claims()!.aud).toBe(remoteId);
      expect(await authenticate(remoteId, assertion(remoteId, 'remote-1'))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      // A flood of unknown kids right after a fetch costs the key server nothing more; a wrong key under the right kid, no kid at all: refused.
      for (let i = 0; i < 5; i++) expect(await authenticate(remoteId, assertion(remoteId, `random-${i}`))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      expect(await authenticate(remoteId, assertion(remoteId, 'remote-1', other))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
      expect(hits.get('/jwks')).toBe(1);
      // Redirects are not followed (the set it points to is not fetched through it), too large a set is refused, a host that is down: 503, never a key.
      expect(await authenticate(movedId, assertion(movedId, 'remote-1'))).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
      expect(hits.get('/moved')).toBe(1);
      expect(hits.get('/jwks')).toBe(1);
      expect(await authenticate(hugeId, assertion(hugeId, 'remote-1'))).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
      const down = await authenticate(downId, assertion(downId, 'remote-1'));
      expect(down).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable', error_description: expect.stringContaining('jwks_uri') } });
      expect(JSON.stringify(down.body)).not.toContain(String(downPort));
    } finally {
      await new Promise((stopped) => server.close(stopped));
    }
  });

  it("stops a locked user's access tokens on every Gateway at once: at jwt-auth, /userinfo and introspection; unlocked, they pass again", async () => {
    const carol = await admin.endUsers.create(projectId, { username: 'carol', password: 'carol-password-1', email: 'carol@example.com', emailVerified: true });
    const flow = await start(web, RP);
    const tokens = await redeem(web, (await new Browser().login(flow.url, 'carol', 'carol-password-1')).headers.get('location')!, flow);
    const call = (g: AppProcess) => fetch(`${g.baseUrl}/orders/list`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    const introspect = () =>
      fetch(`${issuer}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: webBasic() },
        body: new URLSearchParams({ token: tokens.access_token }).toString(),
      }).then((r) => r.json());
    for (const g of gateways) expect((await call(g)).status).toBe(200);
    expect(await introspect()).toMatchObject({ active: true, sub: carol.id });
    await admin.endUsers.update(projectId, carol.id, { locked: true });
    for (const g of gateways)
      await eventually(
        () => call(g),
        (r) => r.status === 401,
        { what: `${g.name} refuses a locked user's token at jwt-auth` },
      );
    await refusedEverywhere([tokens.access_token], "a locked user's token at /userinfo");
    expect(await introspect()).toEqual({ active: false });
    await admin.endUsers.update(projectId, carol.id, { locked: false });
    for (const g of gateways)
      await eventually(
        () => call(g),
        (r) => r.status === 200,
        { what: `${g.name} accepts the unlocked user's token` },
      );
  });

  it('logs out: the session ends on every Gateway, post-logout redirect only to a registered URI', async () => {
    const flow = await freshCode();
    const tokens = await redeem(web, flow.location, flow);
    const browser = flow.browser;
    const oldSession = browser.cookies.get('idm_sso')!;
    const evil = new URL(`${issuer}/logout`);
    evil.searchParams.set('id_token_hint', tokens.id_token!);
    evil.searchParams.set('post_logout_redirect_uri', 'https://evil.example/');
    const refused = await browser.go(evil.toString());
    expect(refused.status).toBe(400);
    expect(refused.headers.get('location')).toBeNull();
    const noHint = await browser.go(`${issuer}/logout?post_logout_redirect_uri=${encodeURIComponent(BYE)}`);
    expect(noHint.status).toBe(400);
    const out = oidc.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: BYE, state: 'bye-state' });
    const res = await browser.go(out.toString());
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${BYE}?state=bye-state`);
    expect(browser.cookies.has('idm_sso')).toBe(false);
    // The old session id, replayed by hand, is gone on the other Gateway too.
    const stale = new Browser();
    stale.cookies.set('idm_sso', oldSession);
    const silent = await start(web, RP, { prompt: 'none' });
    const after = await stale.go(rebase(silent.url, gateways[1].baseUrl));
    expect(new URL(after.headers.get('location')!).searchParams.get('error')).toBe('login_required');
  });

  it('writes an auth record for every login attempt, found through /api/v1/analytics/auth: success, wrong password, locked account, never the password', async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const done = await freshCode();
    expect(done.location).toContain('code=');
    const wrongPassword = 'not-alices-password-9';
    const wrong = await new Browser().login((await start(web, RP)).url, 'alice', wrongPassword);
    expect(wrong.status).toBe(401);
    const locked = await new Browser().login((await start(web, RP)).url, 'locked-lou', 'lou-password-1', gateways[1].baseUrl);
    expect(locked.status).toBe(401);
    const analytics = (filter: string) => admin.call('GET', `/api/v1/analytics/auth?environment=${ENV}&projectId=${projectId}&from=${encodeURIComponent(since)}${filter}`);
    const succeeded = await eventually(
      () => analytics(`&outcome=success&credentialId=${alice.id}`),
      (a) => a.byCredential.some((c: { credentialId: string; username: string }) => c.credentialId === alice.id && c.username === 'alice'),
      { what: "alice's successful login indexed", timeoutMs: 60_000 },
    );
    expect(succeeded.byIssuer.map((i: { issuer: string }) => i.issuer)).toContain(issuer);
    type Counted = { credentialId: string | null; username: string | null; count: number };
    const refused = await eventually(
      () => analytics('&outcome=denied'),
      (a) =>
        a.topFailingCredentials.some((c: Counted) => c.username === 'alice') &&
        a.topFailingCredentials.some((c: Counted) => c.username === 'locked-lou' && c.credentialId !== null),
      { what: 'the wrong password and the locked account indexed', timeoutMs: 60_000 },
    );
    const reasons = refused.byReason.map((r: { reason: string }) => r.reason);
    expect(reasons).toEqual(expect.arrayContaining(['invalid_credentials', 'account_locked']));
    expect(refused.topFailingAddresses.length).toBeGreaterThan(0);
    // A wrong password names no credential (the page never says whether alice exists; the record keeps what was typed).
    expect(refused.topFailingCredentials.find((c: Counted) => c.username === 'alice').credentialId).toBeNull();
    expect(JSON.stringify([succeeded, refused])).not.toContain(wrongPassword);
  });
});
