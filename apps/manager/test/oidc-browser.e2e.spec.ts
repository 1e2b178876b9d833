import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { eventually, freePort } from '@idm/test-kit';
import { startCluster, type Cluster } from './support/cluster';
import { addSigningKey, createDeployedProject } from './support/login-cluster';
import { openLoginBrowser, submitLogin } from './support/login-page';

/**
 * A person logging in through the Gateway's OpenID Provider (issue #15 §2) in a real Chromium
 * (Debian's, driven by playwright-core): the relying party's link to /authorize, the login page,
 * the consent page, the redirect back with a code that `openid-client` (the relying party)
 * redeems with PKCE, validating the ID token's state/nonce; a second sign-in on the SSO session
 * (no page at all, consent remembered), revoking the consent on the user's own page, denying it,
 * and RP-initiated logout. The relying party's callback is a small HTTP server on loopback.
 * Screenshots land in .test-output/oidc/.
 */
const ENV = 'oidc-browser';
jest.setTimeout(300_000);

describe('signing in through the OpenID Provider in Chromium', () => {
  let cluster: Cluster;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let shot: (name: string) => Promise<Buffer>;
  let rpServer: Server;
  let rp: string;
  let issuer: string;
  let clientId: string;
  let alice: { id: string };
  let config: oidc.Configuration;
  const SECRET = 'browser-app-client-secret';

  const start = async (extra: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${rp}/cb`,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    return { url: url.toString(), verifier, state, nonce };
  };
  /** Waits until the browser is back at the relying party's callback; its URL (code or error). */
  const callback = async () => {
    await page.waitForURL((url) => url.href.startsWith(`${rp}/cb?`));
    return new URL(page.url());
  };
  const redeem = (location: URL, flow: { verifier: string; state: string; nonce: string }) =>
    oidc.authorizationCodeGrant(config, location, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });

  /** Why openid-client refused a response (its error and the cause it wraps). */
  const refusal = async (attempt: Promise<unknown>): Promise<string> => {
    try {
      await attempt;
    } catch (err) {
      return `${(err as Error).message}: ${((err as Error).cause as Error | undefined)?.message ?? ''}`;
    }
    throw new Error('the relying party accepted the response');
  };

  beforeAll(async () => {
    const port = await freePort();
    rp = `http://127.0.0.1:${port}`;
    // The relying party's pages: where the browser lands after sign-in and sign-out.
    rpServer = createServer((req, res) => {
      const path = new URL(req.url ?? '/', rp).pathname;
      const body = path === '/cb' ? '<h1>Back at the application</h1>' : path === '/bye' ? '<h1>Signed out of the application</h1>' : '<h1>Not here</h1>';
      res.writeHead(path === '/cb' || path === '/bye' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><head><title>RP</title></head><body>${body}</body></html>`);
    });
    await new Promise<void>((resolve) => rpServer.listen(port, '127.0.0.1', resolve));
    cluster = await startCluster({ environment: ENV, gateways: [{}], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    const { admin } = cluster;
    issuer = `${cluster.gateways[0].baseUrl}/credential`;
    await addSigningKey(cluster, ENV, 'ES256');
    const projectId = await createDeployedProject(cluster, ENV, 'oidc-browser', '/orders');
    alice = await admin.endUsers.create(projectId, { username: 'alice', password: 'alice-password-1', email: 'alice@example.com', emailVerified: true, name: 'Alice Liddell' });
    clientId = (await admin.credentials.create(projectId, { username: 'browser-app', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, clientId, {
      grants: ['authorization_code'],
      oidc: { redirectUris: [`${rp}/cb`], postLogoutRedirectUris: [`${rp}/bye`], consentRequired: true },
    });
    config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const probe = await start();
    await eventually(
      () => fetch(probe.url),
      (r) => r.status === 200,
      { what: 'the Gateway knows the OIDC client' },
    );
    ({ browser, context, page, shot } = await openLoginBrowser('oidc'));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    await new Promise((resolve) => rpServer?.close(resolve));
  }, 60_000);

  it('logs in through the login and consent pages; openid-client redeems the code with PKCE and validates the ID token', async () => {
    const flow = await start();
    await page.goto(flow.url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('1-login');
    await submitLogin(page, 'alice', 'wrong-password');
    await page.getByRole('alert').filter({ hasText: 'Invalid username or password.' }).waitFor();
    await submitLogin(page, 'alice', 'alice-password-1');
    await page.getByRole('heading', { name: 'Allow browser-app to access your account?' }).waitFor();
    expect(await page.locator('li[data-scope]').evaluateAll((items) => items.map((i) => i.getAttribute('data-scope')))).toEqual(['openid', 'profile', 'email']);
    await shot('2-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    const location = await callback();
    await page.getByRole('heading', { name: 'Back at the application' }).waitFor();
    await shot('3-back-at-the-application');
    expect(location.searchParams.get('iss')).toBe(issuer);
    const tokens = await redeem(location, flow);
    expect(tokens.claims()).toMatchObject({ iss: issuer, sub: alice.id, aud: clientId, nonce: flow.nonce });
    expect((await oidc.fetchUserInfo(config, tokens.access_token, alice.id)).email).toBe('alice@example.com');
    const cookies = await context.cookies(issuer);
    expect(cookies.find((c) => c.name === 'idm_sso')).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/credential' });
  });

  it('signs in again on the SSO session without any page, consent remembered; openid-client refuses a state or nonce that is not its own', async () => {
    const first = await start();
    await page.goto(first.url);
    const location = await callback();
    const tokens = await redeem(location, first);
    expect(tokens.claims()!.sub).toBe(alice.id);
    // The relying party checks what it sent: a response for another request is refused.
    const second = await start();
    await page.goto(second.url);
    const other = await callback();
    expect(await refusal(redeem(other, { ...second, state: oidc.randomState() }))).toMatch(/"state"/);
    const third = await start();
    await page.goto(third.url);
    expect(await refusal(redeem(await callback(), { ...third, nonce: oidc.randomNonce() }))).toMatch(/"nonce"/);
  });

  it('lets the user revoke the consent on their own page; the next sign-in asks again, and a denial goes back as access_denied', async () => {
    await page.goto(`${issuer}/consents`);
    await page.getByRole('heading', { name: 'Applications with access' }).waitFor();
    await shot('4-consents');
    await page.getByRole('button', { name: 'Revoke access of browser-app' }).click();
    await page.getByRole('status').filter({ hasText: 'Access revoked.' }).waitFor();
    await expect(page.getByText('No application has access to your account.').count()).resolves.toBe(1);
    const flow = await start();
    await page.goto(flow.url);
    await page.getByRole('heading', { name: 'Allow browser-app to access your account?' }).waitFor();
    await page.getByRole('button', { name: 'Deny' }).click();
    const denied = await callback();
    expect(Object.fromEntries(denied.searchParams)).toMatchObject({ error: 'access_denied', state: flow.state, iss: issuer });
    // prompt=none cannot ask: consent_required, and no page.
    const silent = await start({ prompt: 'none' });
    await page.goto(silent.url);
    expect((await callback()).searchParams.get('error')).toBe('consent_required');
    // Agreeing again makes the SSO sign-in silent again.
    const again = await start();
    await page.goto(again.url);
    await page.getByRole('button', { name: 'Allow' }).click();
    expect((await redeem(await callback(), again)).claims()!.sub).toBe(alice.id);
  });

  it('logs out through the end-session endpoint back to the registered URI; the next prompt=none finds no session', async () => {
    const flow = await start();
    await page.goto(flow.url);
    const tokens = await redeem(await callback(), flow);
    await page.goto(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${rp}/bye`, state: 'bye-state' }).toString());
    await page.getByRole('heading', { name: 'Signed out of the application' }).waitFor();
    expect(page.url()).toBe(`${rp}/bye?state=bye-state`);
    await shot('5-signed-out');
    expect((await context.cookies(issuer)).find((c) => c.name === 'idm_sso')).toBeUndefined();
    const silent = await start({ prompt: 'none' });
    await page.goto(silent.url);
    expect((await callback()).searchParams.get('error')).toBe('login_required');
    // The login page is shown again for a normal request.
    await page.goto((await start()).url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });
});
