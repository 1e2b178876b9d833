import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { freePort } from '@idm/test-kit';
import { loginAtIdp, startExternalIdp, startHostileIdp, type ExternalIdp } from './support/external-oidc-idps';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { Browser, locationOf } from './support/test-browser';

const IDP_CLIENT_SECRET = `op-idp-secret-${randomBytes(8).toString('hex')}`;

/**
 * Operator single sign-on through an external OpenID Provider (issues #16, #18): a System `oidc`
 * source with operatorLogin is offered at GET /auth/sso; its start sends the browser to the IdP
 * (oidc-provider, npm, in its own process) with PKCE, state and nonce bound to an HttpOnly
 * cookie; its callback verifies the ID token, provisions the operator as a password source does
 * (groups -> role bindings) and sends the browser to the console, which collects a session once
 * with a same-site POST. Every hostile case ends as a problem with a reason code, nobody signed
 * in, nothing provisioned: unknown, disabled and non-operator sources, a forged, replayed or
 * missing state, a callback in another browser, the IdP's error, a wrong audience, nonce or
 * issuer, a missing required claim, groups bound to no role, a replayed or cross-site handoff.
 */
describe('operator SSO through an external OpenID Provider', () => {
  const s = randomBytes(3).toString('hex');
  const SOURCE = `corp-idp-${s}`;
  let database: TestDatabase;
  let m: InProcessManager;
  let base: string;
  let idp: ExternalIdp;
  let hostile: { base: string; server: Server };
  let projectId: string;

  const users = async () => (await m.request('GET', '/api/v1/users')).body as Array<{ id: string; username: string }>;
  const operator = async (username: string) => (await users()).find((u) => u.username === username);
  const sso = (path: string) => `${base}/api/v1/auth/sso${path}`;
  /** The console's collection of the callback's outcome (its same-origin fetch). */
  const collect = async (browser: Browser, headers?: Record<string, string>) => {
    const res = await browser.post(sso('/session'), headers);
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Record<string, any> };
  };
  /** Follows a redirect that must end on the console's sign-in screen, then collects there. */
  const landAndCollect = async (browser: Browser, res: Response) => {
    expect(res.status).toBe(302);
    expect(locationOf(res, base)).toBe(`${base}/ui/sign-in?sso=complete`);
    return collect(browser);
  };
  /** Start at the Manager: the IdP's authorization URL. */
  const start = async (browser: Browser, source: string) => {
    const res = await browser.get(sso(`/${source}/start`));
    expect(res.status).toBe(302);
    return { res, location: new URL(locationOf(res, base)) };
  };
  /** Through the real IdP as `login`: the callback URL it sends the browser back to. */
  const throughIdp = async (login: string, browser = new Browser()) => {
    const { location } = await start(browser, SOURCE);
    return { browser, callback: await loginAtIdp(browser, idp.issuer, location.href, login) };
  };
  const createSource = async (body: Record<string, unknown>) => {
    const res = await m.request('POST', '/api/v1/identity-sources', body);
    expect(res.status).toBe(201);
    return res.body as { id: string };
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    await m.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(m.app.getHttpServer().address() as { port: number }).port}`;
    idp = await startExternalIdp(`${base}/api/v1/auth/sso/${SOURCE}/callback`, IDP_CLIENT_SECRET);
    hostile = await startHostileIdp();
    projectId = (await m.request('POST', '/api/v1/projects', { name: `opsso-${s}` })).body.id;
    const operatorLogin = {
      enabled: true,
      groupBindings: [
        { group: 'staff', role: 'project-editor', scope: `project:${projectId}` },
        { group: 'staff', role: 'project-viewer', scope: 'system' },
      ],
    };
    const oidcSource = (name: string, issuer: string, extra: Record<string, unknown> = {}) =>
      createSource({ name, type: 'oidc', config: { issuer, clientId: 'idm-gateway' }, roleMappings: {}, operatorLogin, ...extra });
    await oidcSource(SOURCE, idp.issuer, {
      description: 'Corporate IdP',
      secret: IDP_CLIENT_SECRET,
      config: { issuer: idp.issuer, clientId: 'idm-gateway', scopes: ['openid', 'email', 'profile'], requiredClaims: { email_verified: [true] } },
    });
    for (const mode of ['wrong-aud', 'wrong-nonce', 'wrong-iss']) await oidcSource(`${mode}-${s}`, `${hostile.base}/${mode}`);
    // A valid ID token for "mallory", whose account has no groups: bound to no role.
    await oidcSource(`nobind-${s}`, `${hostile.base}/ok`);
    await oidcSource(`down-${s}`, `http://127.0.0.1:${await freePort()}`, { timeoutMs: 1000 });
    await oidcSource(`disabled-${s}`, idp.issuer, { enabled: false });
    await oidcSource(`nologin-${s}`, idp.issuer, { operatorLogin: null });
  }, 300_000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
    idp?.child.stdin.end();
    idp?.child.kill();
    await new Promise((resolve) => (hostile ? hostile.server.close(resolve) : resolve(undefined)));
  });

  it('lists the operator sign-in sources without a session, names only: no disabled or non-operator source, nothing about the client', async () => {
    const res = await fetch(sso(''));
    expect(res.status).toBe(200);
    const listed = (await res.json()) as Array<Record<string, unknown>>;
    expect(listed.find((x) => x.name === SOURCE)).toEqual({ id: expect.any(String), name: SOURCE, type: 'oidc', displayName: 'Corporate IdP' });
    expect(listed.find((x) => x.name === `nobind-${s}`)).toMatchObject({ displayName: `nobind-${s}` });
    const names = listed.map((x) => x.name);
    expect(names).not.toContain(`disabled-${s}`);
    expect(names).not.toContain(`nologin-${s}`);
    const text = JSON.stringify(listed);
    for (const secret of [IDP_CLIENT_SECRET, idp.issuer, 'idm-gateway']) expect(text).not.toContain(secret);
  });

  it('starts at the IdP with code + PKCE + state + nonce, the state bound to an HttpOnly SameSite cookie of the SSO routes', async () => {
    const { res, location } = await start(new Browser(), SOURCE);
    expect(location.origin).toBe(idp.issuer);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      client_id: 'idm-gateway',
      response_type: 'code',
      code_challenge_method: 'S256',
      redirect_uri: `${base}/api/v1/auth/sso/${SOURCE}/callback`,
      scope: 'openid email profile',
    });
    expect(location.searchParams.get('state')!.length).toBeGreaterThanOrEqual(22);
    expect(location.searchParams.get('nonce')!.length).toBeGreaterThanOrEqual(22);
    expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('idm_sso_pending='))!;
    expect(cookie).toMatch(/; Path=\/api\/v1\/auth\/sso; Max-Age=600; HttpOnly; SameSite=Lax$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('signs an operator in: provisioned as <source>:<user> with the bindings its groups map to, a session collected once, the login audited', async () => {
    expect(await operator(`${SOURCE}:alice`)).toBeUndefined();
    const { browser, callback } = await throughIdp('alice');
    expect(callback.startsWith(`${base}/api/v1/auth/sso/${SOURCE}/callback?`)).toBe(true);
    const back = await browser.get(callback);
    const handoff = back.headers.getSetCookie().find((c) => c.startsWith('idm_sso_handoff='))!;
    expect(handoff).toMatch(/; Path=\/api\/v1\/auth\/sso; Max-Age=60; HttpOnly; SameSite=Strict$/);
    expect(back.headers.get('location')).toBe('/ui/sign-in?sso=complete'); // no token, no code in the URL the browser keeps
    const session = await landAndCollect(browser, back);
    expect(session).toMatchObject({ status: 200, body: { tokenType: 'Bearer', username: `${SOURCE}:alice`, token: expect.stringMatching(/^idms_/) } });

    const alice = (await operator(`${SOURCE}:alice`))!;
    const permissions = await m.request('GET', `/api/v1/me/permissions?projectId=${projectId}`, undefined, { token: session.body.token });
    expect(permissions.status).toBe(200);
    expect(permissions.body.permissions).toContain('proxy:write'); // project-editor on the project
    const systemWide = await m.request('GET', '/api/v1/me/permissions', undefined, { token: session.body.token });
    expect(systemWide.body.permissions).not.toContain('proxy:write'); // project-viewer only, system-wide
    const audit = (await m.request('GET', `/api/v1/audit?entityId=${alice.id}`)).body.items as Array<Record<string, any>>;
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['user.create', 'session.create']));
    expect(JSON.stringify(audit)).toContain(`sso:${SOURCE}`);
    expect(JSON.stringify(audit)).not.toContain(session.body.token);

    // The handoff and the callback are single-use.
    expect(await collect(browser)).toMatchObject({ status: 401, type: expect.stringContaining('application/problem+json'), body: { code: 'sso_handoff_invalid' } });
    expect(await landAndCollect(browser, await browser.get(callback))).toMatchObject({ status: 400, body: { code: 'sso_state_invalid' } });

    // A second sign-in is the same operator.
    const again = await throughIdp('alice');
    expect((await landAndCollect(again.browser, await again.browser.get(again.callback))).status).toBe(200);
    expect((await users()).filter((u) => u.username === `${SOURCE}:alice`)).toHaveLength(1);
  });

  it('never signs anyone in as the local bootstrap admin: an IdP account of that name is its own federated operator', async () => {
    const { browser, callback } = await throughIdp(ADMIN.username);
    const session = await landAndCollect(browser, await browser.get(callback));
    expect(session.body.username).toBe(`${SOURCE}:${ADMIN.username}`);
    const asAdmin = await m.request('GET', '/api/v1/users', undefined, { token: session.body.token });
    expect(asAdmin.status).toBe(403);
  });

  it('refuses a missing or forged state and a callback opened by another browser (nobody signed in)', async () => {
    const { browser, callback } = await throughIdp('carol');
    const forged = new URL(callback);
    forged.searchParams.set('state', randomBytes(16).toString('base64url'));
    expect(await landAndCollect(browser, await browser.get(forged.href))).toMatchObject({ status: 400, body: { code: 'sso_state_invalid' } });
    const stateless = new URL(callback);
    stateless.searchParams.delete('state');
    expect(await landAndCollect(browser, await browser.get(stateless.href))).toMatchObject({ status: 400, body: { code: 'sso_state_missing' } });
    // The genuine callback, carried to a browser without the pending cookie (a cross-site or stolen callback).
    const elsewhere = new Browser();
    expect(await landAndCollect(elsewhere, await elsewhere.get(callback))).toMatchObject({ status: 403, body: { code: 'sso_state_mismatch' } });
    expect(await operator(`${SOURCE}:carol`)).toBeUndefined();
  });

  it("turns the IdP's error response into idp_login_failed", async () => {
    const browser = new Browser();
    const { location } = await start(browser, SOURCE);
    const denied = new URL(sso(`/${SOURCE}/callback`));
    denied.search = new URLSearchParams({ error: 'access_denied', state: location.searchParams.get('state')!, iss: idp.issuer }).toString();
    const refused = await landAndCollect(browser, await browser.get(denied.href));
    expect(refused).toMatchObject({ status: 401, body: { code: 'idp_login_failed', detail: expect.stringContaining('start again') } });
  });

  it.each(['wrong-aud', 'wrong-nonce', 'wrong-iss'])('refuses an ID token with %s: idp_id_token_invalid, nobody provisioned', async (mode) => {
    const browser = new Browser();
    const { location } = await start(browser, `${mode}-${s}`);
    const back = await fetch(location, { redirect: 'manual' }); // the hostile IdP "signs in" at once
    const refused = await landAndCollect(browser, await browser.get(locationOf(back, hostile.base)));
    expect(refused).toMatchObject({ status: 401, body: { code: 'idp_id_token_invalid' } });
    expect(await operator(`${mode}-${s}:mallory`)).toBeUndefined();
  });

  it('refuses an account without a required claim (idp_claims_refused) and one whose groups are bound to no role (operator_no_role_binding), nothing written', async () => {
    const { browser, callback } = await throughIdp('out-eve'); // email_verified: false
    expect(await landAndCollect(browser, await browser.get(callback))).toMatchObject({ status: 403, body: { code: 'idp_claims_refused' } });
    expect(await operator(`${SOURCE}:out-eve`)).toBeUndefined();

    const nobody = new Browser();
    const { location } = await start(nobody, `nobind-${s}`);
    const back = await fetch(location, { redirect: 'manual' });
    const refused = await landAndCollect(nobody, await nobody.get(locationOf(back, hostile.base)));
    expect(refused).toMatchObject({ status: 403, body: { code: 'operator_no_role_binding', detail: expect.stringContaining('ask an administrator') } });
    expect(await operator(`nobind-${s}:mallory`)).toBeUndefined();
  });

  it.each([
    ['no-such-source', 404, 'sso_source_unknown'],
    ['..%2Fetc', 404, 'sso_source_unknown'],
    ['disabled', 403, 'sso_source_disabled'],
    ['nologin', 403, 'sso_operator_login_disabled'],
    ['down', 503, 'idp_unavailable'],
  ])('refuses to start with %s: %i %s, shown on the sign-in screen', async (which, status, code) => {
    const name = ['disabled', 'nologin', 'down'].includes(which) ? `${which}-${s}` : which;
    const browser = new Browser();
    const refused = await landAndCollect(browser, await browser.get(sso(`/${name}/start`)));
    expect(refused).toMatchObject({ status, type: expect.stringContaining('application/problem+json'), body: { code } });
  });

  it('hands the session only to a same-site request of the browser that signed in', async () => {
    const { browser, callback } = await throughIdp('dave');
    await browser.get(callback);
    expect(await collect(browser, { 'sec-fetch-site': 'cross-site' })).toMatchObject({ status: 403, body: { code: 'sso_cross_site' } });
    expect(await collect(new Browser())).toMatchObject({ status: 401, body: { code: 'sso_handoff_invalid' } });
    expect(await collect(browser)).toMatchObject({ status: 200, body: { username: `${SOURCE}:dave` } }); // still there for its own console
  });
});
