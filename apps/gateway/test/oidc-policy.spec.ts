import { box, configSnapshot, createEchoServer, freePort, listenOnLoopback, snapshotProxy, snapshotSecret, type RunningServer } from '@idm/test-kit';
import { UpstreamPolicy } from '@idm/domain';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { BrowserSession, locationOf } from './support/browser-session';

const LOOPBACK_ALLOWED = new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] });
/** gateway-rp's secret at the OP (support/oidc-rp-issuer.mjs). */
const CLIENT_SECRET = 'rp-secret-0123456789abcdef';

/** A Gateway of its own (ActiveConfiguration, proxy handler, HTTP server) in this process. */
async function startGateway() {
  const metrics = new GatewayMetrics();
  const pools = new UpstreamPools({ connectTimeoutMs: 1000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, keepAliveTimeoutMs: 1000, connections: 4 }, LOOPBACK_ALLOWED);
  const active = new ActiveConfiguration(pools, metrics, { secrets: box });
  const handler = new ProxyRequestHandler(active, metrics, { trustProxy: false, bodyLimit: 64 * 1024 }, pino({ level: 'silent' }));
  const http = new GatewayHttpServer();
  const server: Server = http.serverFactory((_req, res) => res.end('nest'));
  http.attach(handler.handle, (_req, res) => res.end('tokens'));
  const running = await listenOnLoopback(server);
  return { url: running.url, active, close: async () => (await running.close(), await pools.closeAll()) };
}

/** The OP in a child process; resolves with its issuer URL. */
function startProvider(redirectUri: string, postLogoutRedirectUri: string): Promise<{ issuer: string; child: ChildProcessWithoutNullStreams }> {
  const child = spawn(process.execPath, [join(__dirname, 'support', 'oidc-rp-issuer.mjs'), redirectUri, postLogoutRedirectUri], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the OP exited (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ issuer: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, child }));
  });
}

/**
 * The `oidc` policy (the Gateway as relying party, #15 §3) against a real OpenID Provider
 * (oidc-provider, npm) over HTTP, the browser's part played hop by hop: the login and consent
 * forms of the OP are submitted like a browser would. Two Gateways serve the same proxy: a
 * session started through one is valid on the other.
 */
describe('oidc policy: the Gateway as relying party (oidc-provider as the OP)', () => {
  const proxyId = `oidc-${randomUUID().slice(0, 8)}`;
  const clientSecretId = randomUUID();
  const cookieSecretId = randomUUID();
  let echo: RunningServer;
  let one: Awaited<ReturnType<typeof startGateway>>;
  let two: Awaited<ReturnType<typeof startGateway>>;
  let op: { issuer: string; child: ChildProcessWithoutNullStreams };

  const sharedSecret = (plain: string) => ({ kid: 'v1', secretJwk: { kty: 'oct', k: Buffer.from(plain, 'utf8').toString('base64url'), kid: 'v1' }, publicJwk: null });

  beforeAll(async () => {
    echo = await listenOnLoopback(createEchoServer());
    one = await startGateway();
    two = await startGateway();
    op = await startProvider(`${one.url}/${proxyId}/.oidc/callback`, `${one.url}/${proxyId}/bye`);
    // A port reserved for this run and never listened on: an OP that is down.
    const downIssuer = `http://127.0.0.1:${await freePort()}`;
    const snapshot = configSnapshot({
      environment: 'oidc-rp-test',
      proxies: [
        snapshotProxy({
          id: `${proxyId}-down`,
          upstreamUrl: echo.url,
          policies: [{ type: 'oidc', config: { issuer: downIssuer, clientId: 'gateway-rp', cookieSecretId, cookieSecure: false, timeoutMs: 1000 } }],
          secrets: [snapshotSecret(cookieSecretId, 'shared-secret', [sharedSecret(randomBytes(32).toString('hex'))])],
        }),
        snapshotProxy({
          id: proxyId,
          upstreamUrl: echo.url,
          policies: [
            {
              type: 'oidc',
              config: {
                issuer: op.issuer,
                clientId: 'gateway-rp',
                clientSecretId,
                cookieSecretId,
                cookieSecure: false,
                scopes: ['openid', 'email', 'profile', 'roles'],
                rolesClaim: 'roles',
                claimHeaders: { email: 'x-user-email', name: 'x-user-name' },
                postLogoutRedirectUri: `${one.url}/${proxyId}/bye`,
              },
            },
          ],
          secrets: [
            snapshotSecret(clientSecretId, 'shared-secret', [sharedSecret(CLIENT_SECRET)]),
            snapshotSecret(cookieSecretId, 'shared-secret', [sharedSecret(randomBytes(32).toString('hex'))]),
          ],
        }),
      ],
    });
    one.active.activate(snapshot);
    two.active.activate(snapshot);
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await echo?.close();
    op?.child.stdin.end();
    op?.child.kill();
  });

  /** Walks the OP's login and consent pages from its authorization URL to the redirect back to the Gateway (not followed). */
  async function loginAtProvider(browser: BrowserSession, authorizeUrl: string, login: string): Promise<string> {
    let url = authorizeUrl;
    for (let hop = 0; hop < 12; hop++) {
      if (!url.startsWith(op.issuer)) return url;
      const res = await browser.get(url);
      if (res.status >= 300 && res.status < 400) {
        url = locationOf(res, url);
        continue;
      }
      const html = await res.text();
      expect(res.status).toBe(200);
      const action = /<form[^>]*action="([^"]+)"/.exec(html)![1];
      const prompt = /name="prompt" value="([a-z]+)"/.exec(html)![1];
      const submitted = await browser.postForm(new URL(action, url).href, prompt === 'login' ? { prompt, login, password: 'any' } : { prompt });
      url = locationOf(submitted, url);
    }
    throw new Error('the OP did not send the browser back');
  }

  /** From an unauthenticated page view to the callback URL the OP sends the browser to. */
  async function startAndLogin(browser: BrowserSession, page: string, login = 'alice'): Promise<string> {
    const started = await browser.get(`${one.url}/${proxyId}${page}`);
    expect(started.status).toBe(302);
    const authorize = new URL(locationOf(started, one.url));
    expect(authorize.origin).toBe(op.issuer);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({ client_id: 'gateway-rp', response_type: 'code', code_challenge_method: 'S256' });
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    return loginAtProvider(browser, authorize.href, login);
  }

  const json = async (res: Response) => (await res.json()) as { code?: string; headers?: Record<string, string>; path?: string };

  it('logs a browser in (code + PKCE), forwards its claims, keeps the session on another Gateway, logs it out', async () => {
    const browser = new BrowserSession();
    const callback = await startAndLogin(browser, '/orders?page=2', 'alice');
    expect(callback.startsWith(`${one.url}/${proxyId}/.oidc/callback?`)).toBe(true);

    const completed = await browser.get(callback);
    expect(completed.status).toBe(302);
    expect(completed.headers.get('location')).toBe(`/${proxyId}/orders?page=2`);
    const setCookies = completed.headers.getSetCookie().join('\n');
    expect(setCookies).toMatch(/^OIDC_SESSION=v1\.[^;]+; Path=\/oidc-[^;]+; Max-Age=28800; HttpOnly; SameSite=Lax$/m);

    const page = await browser.get(`${one.url}/${proxyId}/orders?page=2`);
    expect(page.status).toBe(200);
    const seen = (await json(page)).headers!;
    expect(seen).toMatchObject({
      'x-authenticated-userid': 'alice',
      'x-authenticated-userroles': 'reader,writer',
      'x-user-email': 'alice@example.test',
      'x-user-name': 'User alice',
    });
    // The policy's own cookies stay at the Gateway.
    expect(seen.cookie).toBeUndefined();

    // The same session on the other Gateway (same proxy, same cookie secret): no second login.
    const session = browser.cookie(one.url, 'OIDC_SESSION')!;
    const elsewhere = await fetch(`${two.url}/${proxyId}/x`, { headers: { cookie: `OIDC_SESSION=${session}; theme=dark`, accept: 'application/json' } });
    expect(elsewhere.status).toBe(200);
    expect((await json(elsewhere)).headers).toMatchObject({ 'x-authenticated-userid': 'alice', cookie: 'theme=dark' });

    // Logout: the cookie is deleted and the browser goes to the OP's end-session endpoint.
    const out = await browser.get(`${one.url}/${proxyId}/.oidc/logout`);
    expect(out.status).toBe(302);
    const endSession = new URL(locationOf(out, one.url));
    expect(endSession.origin).toBe(op.issuer);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${one.url}/${proxyId}/bye`);
    expect(browser.cookie(one.url, 'OIDC_SESSION')).toBeUndefined();
    expect((await json(await browser.get(`${one.url}/${proxyId}/x`, { accept: 'application/json' }))).code).toBe('oidc_session_required');
  });

  it('answers API clients 401 with WWW-Authenticate instead of a redirect', async () => {
    const res = await fetch(`${one.url}/${proxyId}/orders`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`OIDC realm="/${proxyId}", login="/${proxyId}/.oidc/login"`);
    expect((await json(res)).code).toBe('oidc_session_required');
    const post = await fetch(`${one.url}/${proxyId}/orders`, { method: 'POST', headers: { accept: 'text/html' }, body: 'x' });
    expect(post.status).toBe(401);
  });

  it('refuses a callback whose state is not the one this browser started (login CSRF)', async () => {
    const victim = new BrowserSession();
    const attacker = new BrowserSession();
    // The attacker logs in and hands its callback URL to the victim, whose browser started a login of its own.
    const attackersCallback = await startAndLogin(attacker, '/x', 'mallory');
    await victim.get(`${one.url}/${proxyId}/x`);
    const res = await victim.get(attackersCallback);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe('oidc_state_mismatch');
    // And a callback without any login cookie.
    const bare = await fetch(attackersCallback, { redirect: 'manual' });
    expect((await json(bare)).code).toBe('oidc_state_mismatch');
    expect(victim.cookie(one.url, 'OIDC_SESSION')).toBeUndefined();
  });

  it('refuses a replayed authorization code', async () => {
    const browser = new BrowserSession();
    const callback = await startAndLogin(browser, '/x');
    const loginCookie = browser.cookie(one.url, 'OIDC_SESSION_LOGIN')!;
    expect((await browser.get(callback)).status).toBe(302);
    // The same code again, with the login cookie it was started with (captured, e.g. from a log or a Referer).
    const replay = await fetch(callback, { redirect: 'manual', headers: { cookie: `OIDC_SESSION_LOGIN=${loginCookie}` } });
    expect(replay.status).toBe(401);
    expect((await json(replay)).code).toBe('oidc_code_rejected');
    expect(replay.headers.getSetCookie().join('\n')).not.toMatch(/^OIDC_SESSION=v1/m);
  });

  it('refuses a tampered or foreign session cookie', async () => {
    const browser = new BrowserSession();
    expect((await browser.get(await startAndLogin(browser, '/x'))).status).toBe(302);
    const session = browser.cookie(one.url, 'OIDC_SESSION')!;
    const data = session.split('.')[2];
    const flipped = data.slice(0, 20) + (data[20] === 'A' ? 'B' : 'A') + data.slice(21);
    for (const forged of [`v1.v1.${flipped}`, 'v1.v1.' + Buffer.from('{"c":{"sub":"admin"},"exp":9999999999999}').toString('base64url'), session.replace('v1.v1.', 'v1.v2.')]) {
      const res = await fetch(`${one.url}/${proxyId}/x`, { headers: { cookie: `OIDC_SESSION=${forged}`, accept: 'application/json' } });
      expect([forged, res.status, (await json(res)).code]).toEqual([forged, 401, 'oidc_session_invalid']);
    }
    // A login cookie is not a session, though sealed with the same key.
    const starting = new BrowserSession();
    await starting.get(`${one.url}/${proxyId}/x`);
    const loginCookie = starting.cookie(one.url, 'OIDC_SESSION_LOGIN')!;
    const login = await fetch(`${one.url}/${proxyId}/x`, { headers: { cookie: `OIDC_SESSION=${loginCookie}`, accept: 'application/json' } });
    expect([login.status, (await json(login)).code]).toEqual([401, 'oidc_session_invalid']);
    // A browser with a tampered cookie is simply sent to log in again.
    const navigation = await fetch(`${one.url}/${proxyId}/x`, { redirect: 'manual', headers: { cookie: `OIDC_SESSION=v1.v1.${flipped}`, accept: 'text/html' } });
    expect(navigation.status).toBe(302);
    expect(locationOf(navigation, one.url).startsWith(op.issuer)).toBe(true);
  });

  it.each(['https://evil.example/', '//evil.example/x', '/\\evil.example', `/${proxyId}/../admin`, '/other-proxy/x', 'javascript:alert(1)'])(
    'refuses the return_to %s (open redirect)',
    async (returnTo) => {
      const res = await fetch(`${one.url}/${proxyId}/.oidc/login?return_to=${encodeURIComponent(returnTo)}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect((await json(res)).code).toBe('oidc_invalid_return_to');
    },
  );

  it('returns to a return_to of this proxy after the login', async () => {
    const browser = new BrowserSession();
    const started = await browser.get(`${one.url}/${proxyId}/.oidc/login?return_to=${encodeURIComponent(`/${proxyId}/deep/link?a=1`)}`);
    const callback = await loginAtProvider(browser, locationOf(started, one.url), 'bob');
    const done = await browser.get(callback);
    expect(done.headers.get('location')).toBe(`/${proxyId}/deep/link?a=1`);
  });

  it('answers a login the user cancelled at the OP with oidc_login_failed, and no session', async () => {
    const browser = new BrowserSession();
    const started = await browser.get(`${one.url}/${proxyId}/x`);
    let url = locationOf(started, one.url);
    // To the OP's login page, then its cancel link (RFC 6749 §4.1.2.1: error=access_denied to the redirect URI).
    while (url.startsWith(op.issuer) && !url.includes('/interaction/')) url = locationOf(await browser.get(url), url);
    let back = locationOf(await browser.get(`${url}/abort`), url);
    while (back.startsWith(op.issuer)) back = locationOf(await browser.get(back), back);
    expect(new URL(back).searchParams.get('error')).toBe('access_denied');
    const res = await browser.get(back);
    expect([res.status, (await json(res)).code]).toEqual([401, 'oidc_login_failed']);
    expect(browser.cookie(one.url, 'OIDC_SESSION')).toBeUndefined();
  });

  it('answers 503 oidc_provider_unavailable to a browser while the OP cannot be reached, 401 to API clients', async () => {
    const browser = await fetch(`${one.url}/${proxyId}-down/x`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect([browser.status, (await json(browser)).code]).toEqual([503, 'oidc_provider_unavailable']);
    const api = await fetch(`${one.url}/${proxyId}-down/x`, { headers: { accept: 'application/json' } });
    expect([api.status, (await json(api)).code]).toEqual([401, 'oidc_session_required']);
  });
});
