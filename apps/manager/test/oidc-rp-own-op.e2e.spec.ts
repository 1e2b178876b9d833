import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { eventually, freePort } from '@idm/test-kit';
import { startCluster, type Cluster } from './support/cluster';
import { addSigningKey } from './support/login-cluster';
import { openLoginBrowser, submitLogin } from './support/login-page';

/**
 * The `oidc` policy (the Gateway as relying party, #15 §3) with our own OpenID Provider (§2, the
 * same Gateway's `/credential`) as its OP, in a real Chromium: a person opens a page of a proxy,
 * is sent to our login page, signs in, comes back through the policy's callback and the
 * upstream (the echo server) sees who they are and their access token, which our /userinfo
 * honours. Logout ends the session in Redis (a copied cookie is refused afterwards), passes
 * `id_token_hint` to our end-session endpoint (which ends the SSO session too) and lands on the
 * registered post-logout page. Manager and Gateway are real processes (dist), as in production.
 * Screenshots land in .test-output/oidc-rp/.
 */
const ENV = 'oidc-rp-own-op';
jest.setTimeout(300_000);

describe('the oidc policy logging a person in through our own OpenID Provider, in Chromium', () => {
  let cluster: Cluster;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let shot: (name: string) => Promise<Buffer>;
  let byeServer: Server;
  let bye: string;
  let gateway: string;
  let alice: { id: string };
  const CLIENT_SECRET = `orders-web-${randomBytes(12).toString('hex')}`;

  /** What the echo upstream received, as the page shows it. */
  const upstreamSaw = async () => JSON.parse((await page.locator('body').textContent()) ?? '{}') as { path: string; headers: Record<string, string> };

  beforeAll(async () => {
    const port = await freePort();
    bye = `http://127.0.0.1:${port}/bye`;
    // The application's signed-out page (outside the proxy: under it, a signed-out browser would be sent to log in).
    byeServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html lang="en"><head><title>Bye</title></head><body><h1>Signed out</h1></body></html>');
    });
    await new Promise<void>((resolve) => byeServer.listen(port, '127.0.0.1', resolve));
    cluster = await startCluster({ environment: ENV, gateways: [{}], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    const { admin } = cluster;
    gateway = cluster.gateways[0].baseUrl;
    await addSigningKey(cluster, ENV, 'ES256');
    const projectId = (await admin.projects.create({ name: 'oidc-rp' })).id;
    alice = await admin.endUsers.create(projectId, { username: 'alice', password: 'alice-password-1', email: 'alice@example.com', emailVerified: true, name: 'Alice Liddell' });
    // The relying party is an OIDC client of our OP like any other: a credential with token settings.
    const clientId = (await admin.credentials.create(projectId, { username: 'orders-web', password: CLIENT_SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, clientId, {
      grants: ['authorization_code'],
      oidc: { redirectUris: [`${gateway}/orders/.oidc/callback`], postLogoutRedirectUris: [bye], consentRequired: false },
    });
    const secret = (name: string, bytes: Buffer) => admin.secrets.create(projectId, { name, kind: 'shared-secret', material: bytes.toString('base64url') });
    const clientSecret = await secret('orders-web-client-secret', Buffer.from(CLIENT_SECRET, 'utf8'));
    const cookieSecret = await secret('orders-cookies', randomBytes(32));
    await admin.proxies.create(projectId, {
      name: 'orders',
      basePath: '/orders',
      upstreamUrl: cluster.echoUrl,
      environments: [ENV],
      policies: [
        {
          type: 'oidc',
          config: {
            issuer: `${gateway}/credential`,
            clientId,
            clientSecretId: clientSecret.id,
            cookieSecretId: cookieSecret.id,
            cookieSecure: false,
            forwardAccessToken: true,
            postLogoutRedirectUri: bye,
            // The OP is this same Gateway, answering its own calls while it serves the browser.
            timeoutMs: 15_000,
          },
        },
      ],
    });
    await eventually(
      () => fetch(`${gateway}/orders/x`, { headers: { accept: 'application/json' } }),
      (r) => r.status === 401,
      { what: 'the Gateway serves the oidc proxy' },
    );
    ({ browser, context, page, shot } = await openLoginBrowser('oidc-rp'));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    await new Promise((resolve) => byeServer?.close(resolve));
  }, 60_000);

  it('signs in through our login page; the upstream sees the user and a token our OP honours; logout revokes the session', async () => {
    await page.goto(`${gateway}/orders/reports?year=2026`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(page.url().startsWith(`${gateway}/credential/`)).toBe(true);
    await shot('1-login');
    await submitLogin(page, 'alice', 'alice-password-1');
    // Generous: the code exchange is the Gateway calling its own token endpoint on a loaded machine.
    await page.waitForURL(`${gateway}/orders/reports?year=2026`, { timeout: 90_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\nthe browser is at ${page.url()}: ${(await page.locator('body').textContent())?.slice(0, 500)}`);
    });
    await shot('2-back-at-the-application');

    const seen = await upstreamSaw();
    expect(seen.headers['x-authenticated-userid']).toBe(alice.id);
    // The policy's cookies stay at the Gateway.
    expect(seen.headers.cookie).toBeUndefined();
    const userinfo = await fetch(`${gateway}/credential/userinfo`, { headers: { authorization: seen.headers.authorization } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toMatchObject({ sub: alice.id, email: 'alice@example.com', name: 'Alice Liddell' });
    // Path=/orders: asked for a URL under it.
    const cookies = await context.cookies(`${gateway}/orders/`);
    const session = cookies.find((c) => c.name === 'OIDC_SESSION')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/orders' });

    // Logout: the policy ends its session, our OP its SSO session (id_token_hint), and the browser lands on the registered page.
    await page.goto(`${gateway}/orders/.oidc/logout`);
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    expect(page.url().startsWith(bye)).toBe(true);
    await shot('3-signed-out');
    expect((await context.cookies(`${gateway}/orders/`)).map((c) => c.name)).not.toContain('OIDC_SESSION');
    expect((await context.cookies(`${gateway}/credential`)).find((c) => c.name === 'idm_sso')).toBeUndefined();
    // The cookie copied before the logout is refused.
    const copied = await fetch(`${gateway}/orders/x`, { headers: { cookie: `OIDC_SESSION=${session.value}`, accept: 'application/json' } });
    expect([copied.status, ((await copied.json()) as { code: string }).code]).toEqual([401, 'oidc_session_ended']);
    // And the next visit asks for the password again (no SSO session left at the OP).
    await page.goto(`${gateway}/orders/reports`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });
});
