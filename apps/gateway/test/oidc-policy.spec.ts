import { AUTH_RECORDS_STREAM, authRecordEntrySchema, type AuthRecord } from '@idm/config-bus';
import {
  box,
  configSnapshot,
  createEchoServer,
  eventually,
  freePort,
  listenOnLoopback,
  RedisProcess,
  snapshotCredential,
  snapshotProxy,
  snapshotSecret,
  type RunningServer,
} from '@idm/test-kit';
import { UpstreamPolicy } from '@idm/domain';
import { RedisOidcSessionStore } from '@idm/policies';
import Redis from 'ioredis';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { AuthRecordFactory } from '../src/auth-records/auth-record-factory';
import { AuthRecordQueue } from '../src/auth-records/auth-record-queue';
import { AuthRecorder } from '../src/auth-records/auth-recorder';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { createTokenRedis } from '../src/token-service/token-redis';
import { BrowserSession, locationOf } from './support/browser-session';

const LOOPBACK_ALLOWED = new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] });
/** gateway-rp's secret at the OP (support/oidc-rp-issuer.mjs). */
const CLIENT_SECRET = 'rp-secret-0123456789abcdef';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** This run's sessions in Redis (deleted after the run). */
const SESSION_PREFIX = `test:oidc-rp:${randomUUID().slice(0, 8)}:`;
/** Added to the policies' clock: idle and absolute timeouts and token expiry without waiting. */
let clockSkewMs = 0;
const now = () => Date.now() + clockSkewMs;

/**
 * A Gateway of its own (ActiveConfiguration, proxy handler, HTTP server) in this process, its oidc
 * sessions in `redis`; with `records`, its auth records go to that Redis's records stream as a
 * Gateway process's do (AuthRecorder -> AuthRecordQueue).
 */
async function startGateway(redis: Redis, records: Redis | null = null) {
  const metrics = new GatewayMetrics();
  const pools = new UpstreamPools({ connectTimeoutMs: 1000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, keepAliveTimeoutMs: 1000, connections: 4 }, LOOPBACK_ALLOWED);
  // As a Gateway process builds it: session reads cached, invalidated over the store's channel
  // (a TTL of a minute here: a logout seen on the other Gateway is the invalidation's doing).
  const invalidations = redis.duplicate();
  invalidations.on('error', () => {});
  const oidcSessions = new RedisOidcSessionStore(redis, SESSION_PREFIX, { subscriber: invalidations, ttlMs: 60_000 });
  const active = new ActiveConfiguration(pools, metrics, { secrets: box, oidcSessions, now });
  let queue: AuthRecordQueue | null = null;
  let authRecords: { recorder: AuthRecorder; factory: AuthRecordFactory } | null = null;
  if (records !== null) {
    const recorder = new AuthRecorder();
    queue = new AuthRecordQueue(records, { queueLimit: 10_000, bufferLimit: 10_000, flushIntervalMs: 20 }, { queued: () => {}, dropped: () => {} }, pino({ level: 'silent' }));
    recorder.subscribe(queue.listener);
    queue.start();
    authRecords = { recorder, factory: new AuthRecordFactory('oidc-rp-test', 'gw-oidc-1', now) };
  }
  const handler = new ProxyRequestHandler(active, metrics, { trustProxy: false, bodyLimit: 64 * 1024 }, pino({ level: 'silent' }), null, authRecords);
  const http = new GatewayHttpServer();
  const server: Server = http.serverFactory((_req, res) => res.end('nest'));
  http.attach(handler.handle, (_req, res) => res.end('tokens'));
  const running = await listenOnLoopback(server);
  return { url: running.url, active, close: async () => (await running.close(), await queue?.close(), await pools.closeAll(), oidcSessions.close(), invalidations.disconnect()) };
}

interface RunningProvider {
  issuer: string;
  child: ChildProcessWithoutNullStreams;
  /** Revokes every refresh token the OP issued to `sub`; resolves with how many. */
  revoke(sub: string): Promise<number>;
}

/** The OP in a child process; resolves with its issuer URL. */
function startProvider(redirectUris: string[], postLogoutRedirectUri: string): Promise<RunningProvider> {
  const child = spawn(process.execPath, [join(__dirname, 'support', 'oidc-rp-issuer.mjs'), redirectUris.join(','), postLogoutRedirectUri], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  const lines = createInterface({ input: child.stdout });
  const revoke = (sub: string) =>
    new Promise<number>((resolve) => {
      lines.once('line', (line) => resolve((JSON.parse(line) as { revoked: number }).revoked));
      child.stdin.write(`revoke ${sub}\n`);
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the OP exited (${code})`)));
    lines.once('line', (line) => resolve({ issuer: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, child, revoke }));
  });
}

/**
 * The `oidc` policy (the Gateway as relying party, #15 §3) against a real OpenID Provider
 * (oidc-provider, npm) over HTTP, the browser's part played hop by hop: the login and consent
 * forms of the OP are submitted like a browser would. Two Gateways serve the same proxy with
 * their sessions in the same Redis: a session started through one is valid on the other, and a
 * logout through either revokes it. A third Gateway's Redis is down.
 */
describe('oidc policy: the Gateway as relying party (oidc-provider as the OP)', () => {
  const proxyId = `oidc-${randomUUID().slice(0, 8)}`;
  const clientSecretId = randomUUID();
  const cookieSecretId = randomUUID();
  const cookieKey = randomBytes(32).toString('hex');
  let echo: RunningServer;
  let one: Awaited<ReturnType<typeof startGateway>>;
  let two: Awaited<ReturnType<typeof startGateway>>;
  let cut: Awaited<ReturnType<typeof startGateway>>;
  let redis: Redis;
  let deadRedis: Redis;
  /** The auth records' Redis: a private server, so the stream holds this run's records only. */
  let recordsServer: RedisProcess;
  let records: Redis;
  let op: RunningProvider;

  const sharedSecret = (plain: string) => ({ kid: 'v1', secretJwk: { kty: 'oct', k: Buffer.from(plain, 'utf8').toString('base64url'), kid: 'v1' }, publicJwk: null });

  beforeAll(async () => {
    echo = await listenOnLoopback(createEchoServer());
    redis = new Redis(REDIS_URL);
    // The Gateway's own fail-fast connection, to a port nobody listens on: Redis is down for this Gateway.
    deadRedis = createTokenRedis({ mode: 'single', url: `redis://127.0.0.1:${await freePort()}` }, pino({ level: 'silent' }), 'oidc-rp-test-dead');
    deadRedis.on('error', () => {});
    recordsServer = new RedisProcess(await freePort());
    await recordsServer.start();
    records = new Redis(recordsServer.url);
    one = await startGateway(redis, records);
    two = await startGateway(redis);
    cut = await startGateway(deadRedis);
    op = await startProvider(
      [
        `${one.url}/${proxyId}/.oidc/callback`,
        `${one.url}/${proxyId}-fwd/.oidc/callback`,
        `${one.url}/${proxyId}-fwd-once/.oidc/callback`,
        `${one.url}/${proxyId}-ui/.oidc/callback`,
        `${one.url}/${proxyId}-hybrid/.oidc/callback`,
      ],
      `${one.url}/${proxyId}/bye`,
    );
    // A port reserved for this run and never listened on: an OP that is down.
    const downIssuer = `http://127.0.0.1:${await freePort()}`;
    const opPolicy = (overrides: Record<string, unknown>) => ({
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
        ...overrides,
      },
    });
    const opSecrets = [snapshotSecret(clientSecretId, 'shared-secret', [sharedSecret(CLIENT_SECRET)]), snapshotSecret(cookieSecretId, 'shared-secret', [sharedSecret(cookieKey)])];
    const snapshot = configSnapshot({
      environment: 'oidc-rp-test',
      proxies: [
        snapshotProxy({
          id: `${proxyId}-down`,
          upstreamUrl: echo.url,
          policies: [{ type: 'oidc', config: { issuer: downIssuer, clientId: 'gateway-rp', cookieSecretId, cookieSecure: false, timeoutMs: 1000 } }],
          secrets: [snapshotSecret(cookieSecretId, 'shared-secret', [sharedSecret(randomBytes(32).toString('hex'))])],
        }),
        // An absolute lifetime of an hour, the default idle timeout (30 minutes).
        snapshotProxy({ id: proxyId, upstreamUrl: echo.url, policies: [opPolicy({ sessionTtlSeconds: 3600 })], secrets: opSecrets }),
        // Another proxy with the same cookie secret: the sessions of one are nothing on the other.
        snapshotProxy({ id: `${proxyId}-other`, upstreamUrl: echo.url, policies: [opPolicy({})], secrets: opSecrets }),
        // The access token goes upstream and is refreshed; sessions idle for up to 2 hours.
        snapshotProxy({ id: `${proxyId}-fwd`, upstreamUrl: echo.url, policies: [opPolicy({ forwardAccessToken: true, idleTimeoutSeconds: 7200 })], secrets: opSecrets }),
        // The same without the `profile` scope: the OP gives no refresh token (support/oidc-rp-issuer.mjs).
        snapshotProxy({
          id: `${proxyId}-fwd-once`,
          upstreamUrl: echo.url,
          policies: [opPolicy({ forwardAccessToken: true, idleTimeoutSeconds: 7200, scopes: ['openid', 'email'] })],
          secrets: opSecrets,
        }),
        // Claims of the userinfo endpoint too (scope `org`: userinfo only at this OP), hostile ones among them.
        snapshotProxy({
          id: `${proxyId}-ui`,
          upstreamUrl: echo.url,
          policies: [
            opPolicy({
              userinfo: true,
              scopes: ['openid', 'email', 'roles', 'org'],
              claimHeaders: { email: 'x-user-email', department: 'x-user-department', nickname: 'x-user-nickname', motto: 'x-user-motto', bio: 'x-user-bio' },
            }),
          ],
          secrets: opSecrets,
        }),
        // Hybrid mode: the OP's `sub` names a credential of the project, which then authenticates.
        snapshotProxy({ id: `${proxyId}-hybrid`, upstreamUrl: echo.url, policies: [opPolicy({ credentialClaim: 'sub' })], secrets: opSecrets }),
      ],
      credentials: [snapshotCredential({ id: 'c-hybrid-hank', username: 'hank' }), snapshotCredential({ id: 'c-hybrid-ivy', username: 'ivy', enabled: false })],
    });
    one.active.activate(snapshot);
    two.active.activate(snapshot);
    cut.active.activate(snapshot);
  });

  afterEach(() => {
    clockSkewMs = 0;
  });

  afterAll(async () => {
    for await (const keys of redis.scanStream({ match: `${SESSION_PREFIX}*`, count: 1000 })) if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    redis?.disconnect();
    deadRedis?.disconnect();
    await one?.close();
    records?.disconnect();
    await recordsServer?.stop();
    await two?.close();
    await cut?.close();
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
  async function startAndLogin(browser: BrowserSession, page: string, login = 'alice', proxy = proxyId): Promise<string> {
    const started = await browser.get(`${one.url}/${proxy}${page}`);
    expect(started.status).toBe(302);
    const authorize = new URL(locationOf(started, one.url));
    expect(authorize.origin).toBe(op.issuer);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({ client_id: 'gateway-rp', response_type: 'code', code_challenge_method: 'S256' });
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    return loginAtProvider(browser, authorize.href, login);
  }

  const json = async (res: Response) => (await res.json()) as { code?: string; headers?: Record<string, string>; path?: string };

  /** A browser logged in on `proxy` through Gateway one; returns it and its session cookie. */
  async function loggedIn(proxy = proxyId, login = 'alice'): Promise<{ browser: BrowserSession; session: string }> {
    const browser = new BrowserSession();
    const done = await browser.get(await startAndLogin(browser, '/x', login, proxy));
    expect(done.status).toBe(302);
    return { browser, session: browser.cookie(one.url, 'OIDC_SESSION')! };
  }

  /** An API call with only this session cookie: [status, reason code or the user the upstream saw]. */
  async function callWith(gateway: { url: string }, session: string, proxy = proxyId, headers: Record<string, string> = {}): Promise<[number, string | undefined]> {
    const res = await fetch(`${gateway.url}/${proxy}/x`, { headers: { cookie: `OIDC_SESSION=${session}`, accept: 'application/json', ...headers } });
    const body = await json(res);
    return [res.status, body.code ?? body.headers?.['x-authenticated-userid']];
  }

  it('logs a browser in (code + PKCE), forwards its claims, keeps the session on another Gateway, logs it out', async () => {
    const browser = new BrowserSession();
    const callback = await startAndLogin(browser, '/orders?page=2', 'alice');
    expect(callback.startsWith(`${one.url}/${proxyId}/.oidc/callback?`)).toBe(true);

    const completed = await browser.get(callback);
    expect(completed.status).toBe(302);
    expect(completed.headers.get('location')).toBe(`/${proxyId}/orders?page=2`);
    const setCookies = completed.headers.getSetCookie().join('\n');
    expect(setCookies).toMatch(/^OIDC_SESSION=v1\.[^;]+; Path=\/oidc-[^;]+; Max-Age=3600; HttpOnly; SameSite=Lax$/m);
    // The cookie is a session id only: no claim travels in it (an email alone would make it longer).
    expect(browser.cookie(one.url, 'OIDC_SESSION')!.length).toBeLessThan(160);
    // The session itself is in Redis, under this proxy, sealed: no claim readable there either.
    const stored = await redis.keys(`${SESSION_PREFIX}${proxyId}:*`);
    expect(stored).toHaveLength(1);
    expect(await redis.get(stored[0])).not.toContain('alice');
    expect(await redis.pttl(stored[0])).toBeGreaterThan(29 * 60_000);

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

    // Logout: the session is deleted, the cookie too, and the browser goes to the OP's end-session
    // endpoint with the session's ID token as id_token_hint.
    const out = await browser.get(`${one.url}/${proxyId}/.oidc/logout`);
    expect(out.status).toBe(302);
    const endSession = new URL(locationOf(out, one.url));
    expect(endSession.origin).toBe(op.issuer);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${one.url}/${proxyId}/bye`);
    const hint = JSON.parse(Buffer.from(endSession.searchParams.get('id_token_hint')!.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(hint).toMatchObject({ iss: op.issuer, sub: 'alice', aud: 'gateway-rp' });
    expect(browser.cookie(one.url, 'OIDC_SESSION')).toBeUndefined();
    expect((await json(await browser.get(`${one.url}/${proxyId}/x`, { accept: 'application/json' }))).code).toBe('oidc_session_required');
    // A copy of the cookie taken before the logout is worthless now, on every Gateway.
    expect(await callWith(one, session)).toEqual([401, 'oidc_session_ended']);
    expect(await callWith(two, session)).toEqual([401, 'oidc_session_ended']);
    expect(await redis.keys(`${SESSION_PREFIX}${proxyId}:*`)).toHaveLength(0);
    // The OP takes the hint: its end-session page answers (a confirmation form, not an error).
    const atOp = await browser.get(endSession.href);
    expect(atOp.status).toBe(200);
    expect(await atOp.text()).toMatch(/logout/i);
  });

  /** The records in the stream of this request id (the Gateway sends them every 20 ms). */
  async function recordsOf(requestId: string, count: number): Promise<AuthRecord[]> {
    const read = async () =>
      (await records.xrange(AUTH_RECORDS_STREAM, '-', '+')).flatMap(([, fields]) => authRecordEntrySchema.parse(JSON.parse(fields[1]))).filter((r) => r.requestId === requestId);
    return eventually(read, (found) => found.length >= count, { what: `${count} auth record(s) of ${requestId}` });
  }

  it('records login success and failure, session requests, an ended session and a logout in the auth records stream, never a token', async () => {
    const browser = new BrowserSession();
    const callback = await startAndLogin(browser, '/x', 'frank');
    const login = await fetch(callback, {
      redirect: 'manual',
      headers: { cookie: `OIDC_SESSION_LOGIN=${browser.cookie(one.url, 'OIDC_SESSION_LOGIN')}`, 'x-request-id': 'rp-login' },
    });
    expect([login.status, login.headers.get('location')]).toEqual([302, `/${proxyId}/x`]);
    const session = /OIDC_SESSION=([^;]+)/.exec(login.headers.getSetCookie().join('\n'))![1];
    const [loggedIn] = await recordsOf('rp-login', 1);
    expect(loggedIn).toMatchObject({
      proxyId,
      policy: 'oidc',
      outcome: 'success',
      reason: 'oidc_logged_in',
      status: 302,
      username: 'frank',
      credentialId: null,
      environment: 'oidc-rp-test',
    });
    // The same code again: refused, and recorded as a denial.
    const replay = await fetch(callback, {
      redirect: 'manual',
      headers: { cookie: `OIDC_SESSION_LOGIN=${browser.cookie(one.url, 'OIDC_SESSION_LOGIN')}`, 'x-request-id': 'rp-replay' },
    });
    expect(replay.status).toBe(401);
    expect((await recordsOf('rp-replay', 1))[0]).toMatchObject({ policy: 'oidc', outcome: 'denied', reason: 'oidc_code_rejected', status: 401 });
    // A request with the session: a success naming the user.
    expect(await callWith(one, session, proxyId, { 'x-request-id': 'rp-session' })).toEqual([200, 'frank']);
    expect((await recordsOf('rp-session', 1))[0]).toMatchObject({ policy: 'oidc', outcome: 'success', reason: null, status: 200, username: 'frank' });
    // Logout: a success; the same cookie afterwards: the session ended.
    const out = await fetch(`${one.url}/${proxyId}/.oidc/logout`, { redirect: 'manual', headers: { cookie: `OIDC_SESSION=${session}`, 'x-request-id': 'rp-logout' } });
    expect(out.status).toBe(302);
    expect((await recordsOf('rp-logout', 1))[0]).toMatchObject({ policy: 'oidc', outcome: 'success', reason: 'oidc_logged_out', username: 'frank' });
    expect(await callWith(one, session, proxyId, { 'x-request-id': 'rp-ended' })).toEqual([401, 'oidc_session_ended']);
    expect((await recordsOf('rp-ended', 1))[0]).toMatchObject({ policy: 'oidc', outcome: 'denied', reason: 'oidc_session_ended', status: 401 });
    // No token, cookie or session id in any record of the run.
    const raw = (await records.xrange(AUTH_RECORDS_STREAM, '-', '+')).map(([, fields]) => fields[1]).join('\n');
    expect(raw).not.toContain(session);
    expect(raw).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(raw).not.toContain(new URL(callback).searchParams.get('code')!);
  });

  it('ends a session idle for longer than idleTimeoutSeconds, and every session at its absolute lifetime', async () => {
    const idle = await loggedIn();
    const active = await loggedIn(proxyId, 'bob');
    // 20 minutes on: both fine (this request also records that `active` was seen).
    clockSkewMs = 20 * 60_000;
    expect(await callWith(one, active.session)).toEqual([200, 'bob']);
    // 40 minutes: `idle` was last seen 40 minutes ago (> 30), `active` 20 minutes ago.
    clockSkewMs = 40 * 60_000;
    expect(await callWith(two, idle.session)).toEqual([401, 'oidc_session_ended']);
    expect(await callWith(one, active.session)).toEqual([200, 'bob']);
    // The idle session is gone from Redis (not merely refused): one left, bob's.
    expect(await redis.keys(`${SESSION_PREFIX}${proxyId}:*`)).toHaveLength(1);
    // A browser with the ended session is sent to log in again, and its dead cookie deleted.
    const again = await idle.browser.get(`${one.url}/${proxyId}/x`);
    expect(locationOf(again, one.url).startsWith(op.issuer)).toBe(true);
    expect(idle.browser.cookie(one.url, 'OIDC_SESSION')).toBeUndefined();
    // 61 minutes: past the hour of sessionTtlSeconds, however active.
    clockSkewMs = 61 * 60_000;
    const ended = await fetch(`${one.url}/${proxyId}/x`, { headers: { cookie: `OIDC_SESSION=${active.session}`, accept: 'application/json' } });
    expect([ended.status, (await json(ended)).code]).toEqual([401, 'oidc_session_ended']);
    expect(ended.headers.getSetCookie().join('\n')).toMatch(/^OIDC_SESSION=; Path=[^;]+; Max-Age=0;/m);
  });

  it('refuses a session of another proxy sharing the cookie secret, and a session id that is not sealed', async () => {
    const { session } = await loggedIn();
    expect(await callWith(one, session)).toEqual([200, 'alice']);
    expect(await callWith(one, session, `${proxyId}-other`)).toEqual([401, 'oidc_session_invalid']);
    // A bare random id (what a store key could be guessed from) or the Redis key itself is no cookie.
    const key = (await redis.keys(`${SESSION_PREFIX}${proxyId}:*`))[0].slice(SESSION_PREFIX.length);
    for (const forged of [randomBytes(32).toString('base64url'), key, `v1.v1.${Buffer.from(JSON.stringify({ s: key, exp: 9e15 })).toString('base64url')}`]) {
      expect(await callWith(one, forged)).toEqual([401, 'oidc_session_invalid']);
    }
  });

  it('does not end the session on a cross-site logout request (logout CSRF)', async () => {
    const { browser, session } = await loggedIn();
    const res = await fetch(`${one.url}/${proxyId}/.oidc/logout`, { redirect: 'manual', headers: { cookie: `OIDC_SESSION=${session}`, 'sec-fetch-site': 'cross-site' } });
    expect([res.status, (await json(res)).code]).toEqual([403, 'oidc_logout_cross_site']);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await callWith(one, session)).toEqual([200, 'alice']);
    // From the application's own page it does.
    const own = await fetch(`${one.url}/${proxyId}/.oidc/logout`, { redirect: 'manual', headers: { cookie: `OIDC_SESSION=${session}`, 'sec-fetch-site': 'same-origin' } });
    expect(own.status).toBe(302);
    expect(await callWith(one, session)).toEqual([401, 'oidc_session_ended']);
    expect(browser.cookie(one.url, 'OIDC_SESSION')).toBe(session);
  });

  it("forwards the session's access token upstream (never the client's own), refreshing it once it expires", async () => {
    const fwd = `${proxyId}-fwd`;
    const { session } = await loggedIn(fwd, 'carol');
    const metadata = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as { userinfo_endpoint: string };
    const seenBearer = async (gateway: { url: string }) => {
      // The client's own Authorization header is dropped: the upstream trusts the one the Gateway sets.
      const res = await fetch(`${gateway.url}/${fwd}/x`, { headers: { cookie: `OIDC_SESSION=${session}`, accept: 'application/json', authorization: 'Bearer forged' } });
      expect(res.status).toBe(200);
      const authorization = (await json(res)).headers!.authorization;
      expect(authorization).toMatch(/^Bearer [A-Za-z0-9._~+/-]+=*$/);
      return authorization.slice('Bearer '.length);
    };
    const userinfo = async (token: string) => {
      const res = await fetch(metadata.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
      return [res.status, ((await res.json()) as { sub?: string }).sub];
    };
    const first = await seenBearer(one);
    expect(first).not.toBe('forged');
    expect(await userinfo(first)).toEqual([200, 'carol']);
    // 59 minutes on: the hour-long token (oidc-provider's default) is still good, the same goes upstream.
    clockSkewMs = 59 * 60_000;
    expect(await seenBearer(two)).toBe(first);
    // 60 minutes: it expires within the clock skew; the refresh token buys a new one, which the OP honours.
    clockSkewMs = 60 * 60_000;
    const second = await seenBearer(one);
    expect(second).not.toBe(first);
    expect(await userinfo(second)).toEqual([200, 'carol']);
    // The refreshed tokens are the session's, on every Gateway: no second refresh.
    expect(await seenBearer(two)).toBe(second);
    // A proxy without forwardAccessToken sends no token of the session upstream.
    const plain = await loggedIn();
    const res = await fetch(`${one.url}/${proxyId}/x`, { headers: { cookie: `OIDC_SESSION=${plain.session}`, accept: 'application/json' } });
    expect((await json(res)).headers!.authorization).toBeUndefined();
  });

  it("forwards userinfo claims as headers, sanitized, and never a client's own copy of those headers", async () => {
    const ui = `${proxyId}-ui`;
    const { session } = await loggedIn(ui, 'erin');
    // A hostile client sends the headers itself, in every spelling a server may treat as the same name.
    const res = await fetch(`${two.url}/${ui}/x`, {
      headers: {
        cookie: `OIDC_SESSION=${session}`,
        accept: 'application/json',
        'x-user-department': 'Board',
        'X-User-Motto': 'forged',
        x_user_bio: 'forged',
        'x-user-nickname': 'forged',
      },
    });
    expect(res.status).toBe(200);
    const seen = (await json(res)).headers!;
    // From userinfo (the ID token has none of them) and the ID token.
    expect(seen).toMatchObject({ 'x-authenticated-userid': 'erin', 'x-user-email': 'erin@example.test', 'x-user-department': 'Sales' });
    // Not printable ASCII: percent-encoded UTF-8.
    expect(seen['x-user-nickname']).toBe('Zo%C3%AB');
    // CR/LF in a claim (header injection) and a value over claimHeaderMaxLength (1,024): not sent at all, nor the client's copy.
    expect(seen['x-user-motto']).toBeUndefined();
    expect(seen['x-user-bio']).toBeUndefined();
    expect(seen['x_user_bio']).toBeUndefined();
    // The injected line never became a header.
    expect(seen['x-injected']).toBeUndefined();
  });

  it('refuses a login whose userinfo names another sub than the ID token (OIDC Core 5.3.2): 401 oidc_userinfo_subject_mismatch, no session', async () => {
    const ui = `${proxyId}-ui`;
    const browser = new BrowserSession();
    const res = await browser.get(await startAndLogin(browser, '/x', 'swap-mallory', ui));
    expect([res.status, (await json(res)).code]).toEqual([401, 'oidc_userinfo_subject_mismatch']);
    expect(browser.cookie(one.url, 'OIDC_SESSION')).toBeUndefined();
    // The same OP's matching userinfo still logs in through that proxy.
    expect((await loggedIn(ui, 'mallory')).session).toBeTruthy();
  });

  it('ends the session when the OP refuses the refresh (revoked token): 401 oidc_session_ended, recorded; a fresh login works', async () => {
    const fwd = `${proxyId}-fwd`;
    const { session } = await loggedIn(fwd, 'gina');
    expect(await callWith(one, session, fwd)).toEqual([200, 'gina']);
    expect(await op.revoke('gina')).toBeGreaterThan(0);
    // An hour on, the access token needs the refresh the OP now refuses (invalid_grant): the session ends, on every Gateway.
    clockSkewMs = 60 * 60_000;
    expect(await callWith(one, session, fwd, { 'x-request-id': 'rp-refresh-refused' })).toEqual([401, 'oidc_session_ended']);
    expect((await recordsOf('rp-refresh-refused', 1))[0]).toMatchObject({ proxyId: fwd, policy: 'oidc', outcome: 'denied', reason: 'oidc_session_ended', status: 401 });
    expect(await callWith(two, session, fwd)).toEqual([401, 'oidc_session_ended']);
    // The user logs in again and is served, with a token the OP honours.
    const again = await loggedIn(fwd, 'gina');
    expect(again.session).not.toBe(session);
    const res = await fetch(`${two.url}/${fwd}/x`, { headers: { cookie: `OIDC_SESSION=${again.session}`, accept: 'application/json' } });
    expect(res.status).toBe(200);
    const token = (await json(res)).headers!.authorization.slice('Bearer '.length);
    const metadata = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as { userinfo_endpoint: string };
    expect((await fetch(metadata.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it("hybrid mode: the session's claim names our credential, which authenticates; no credential or a disabled one is refused", async () => {
    const hybrid = `${proxyId}-hybrid`;
    const hank = await loggedIn(hybrid, 'hank');
    expect(await callWith(one, hank.session, hybrid, { 'x-request-id': 'rp-hybrid' })).toEqual([200, 'hank']);
    expect((await recordsOf('rp-hybrid', 1))[0]).toMatchObject({ proxyId: hybrid, policy: 'oidc', outcome: 'success', credentialId: 'c-hybrid-hank', username: 'hank' });
    // Logged in at the OP, but no credential of the project is theirs, or theirs is disabled.
    expect(await callWith(two, (await loggedIn(hybrid, 'judy')).session, hybrid)).toEqual([403, 'oidc_credential_unknown']);
    expect(await callWith(one, (await loggedIn(hybrid, 'ivy')).session, hybrid)).toEqual([401, 'credential_disabled']);
  });

  it('ends a session whose access token expired when the OP gave no refresh token', async () => {
    const once = `${proxyId}-fwd-once`;
    const { session } = await loggedIn(once, 'dave');
    const res = await fetch(`${one.url}/${once}/x`, { headers: { cookie: `OIDC_SESSION=${session}`, accept: 'application/json' } });
    expect((await json(res)).headers!.authorization).toMatch(/^Bearer /);
    expect(await redis.keys(`${SESSION_PREFIX}${once}:*`)).toHaveLength(1);
    // An hour on, the token is past use and nothing can renew it: the session ends (not a stale token sent upstream).
    clockSkewMs = 60 * 60_000;
    expect(await callWith(one, session, once)).toEqual([401, 'oidc_session_ended']);
    expect(await redis.keys(`${SESSION_PREFIX}${once}:*`)).toHaveLength(0);
  });

  it('answers 503 oidc_session_store_unavailable while Redis is down, and does not claim a logout it could not do', async () => {
    const { session } = await loggedIn();
    expect(await callWith(cut, session)).toEqual([503, 'oidc_session_store_unavailable']);
    const page = await fetch(`${cut.url}/${proxyId}/x`, { redirect: 'manual', headers: { cookie: `OIDC_SESSION=${session}`, accept: 'text/html' } });
    expect([page.status, (await json(page)).code]).toEqual([503, 'oidc_session_store_unavailable']);
    const out = await fetch(`${cut.url}/${proxyId}/.oidc/logout`, { redirect: 'manual', headers: { cookie: `OIDC_SESSION=${session}` } });
    expect([out.status, (await json(out)).code]).toEqual([503, 'oidc_session_store_unavailable']);
    expect(out.headers.getSetCookie().join('\n')).toMatch(/^OIDC_SESSION=; /m);
    // Not revoked: still valid where Redis answers (the user is told, not misled).
    expect(await callWith(one, session)).toEqual([200, 'alice']);
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
