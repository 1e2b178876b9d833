import { eventually } from '@idm/test-kit';
import { createHash, randomBytes } from 'node:crypto';
import { startCluster, type Cluster } from './support/cluster';
import { addSigningKey, createDeployedProject, createLoginClient } from './support/login-cluster';
import { linkOf, SmtpInbox, type ReceivedMail } from './support/smtp-inbox';
import { Browser } from './support/test-browser';

const ENV = `ssvc-${randomBytes(3).toString('hex')}`;
/** Where the Manager's mail links point; the test opens them on its Gateway (same path and query). */
const PAGES = 'https://gw.example.test/credential';

/**
 * End users' self-service through the Gateway's OpenID Provider pages (#15 §1), a Manager and a
 * Gateway process and a real SMTP server (`smtp-server`) of the test: "Create account" only when
 * the project's switch is on, registration -> verification mail -> confirm page, "Forgot
 * password?" -> reset mail -> new password -> sign in with it; the forms' CSRF checks, the same
 * answer for known and unknown addresses, 429 with Retry-After, replayed links refused, CR/LF
 * refused, and the login page's security headers on every new page.
 */
describe('end-user self-service pages (Gateway OP, Manager over the bus, real SMTP)', () => {
  const s = randomBytes(3).toString('hex');
  const RP = 'https://rp.example/cb';
  let inbox: SmtpInbox;
  let cluster: Cluster;
  let issuer: string;
  let projectId: string;
  let clientId: string;

  const authorizeUrl = () => {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: RP,
      scope: 'openid email',
      state: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    return `${issuer}/authorize?${q}`;
  };
  const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
  const outcomeOf = (html: string) => /data-outcome="([^"]+)"/.exec(html)?.[1] ?? /data-code="([^"]+)"/.exec(html)?.[1];
  /** The login page in a browser: its transaction and CSRF token, and the HTML. */
  const loginPage = async (browser: Browser) => {
    const res = await browser.get(authorizeUrl());
    expect(res.status).toBe(200);
    const html = await res.text();
    return { html, transaction: field(html, 'transaction'), csrf: field(html, 'csrf') };
  };
  const onGateway = (link: URL) => `${issuer}${link.pathname.slice('/credential'.length)}${link.search}`;
  const mailTo = (email: string, n = 1): Promise<ReceivedMail> =>
    eventually(
      () => Promise.resolve(inbox.to(email)),
      (mails) => mails.length >= n,
      { what: `mail #${n} to ${email}`, timeoutMs: 30_000 },
    ).then((mails) => mails[n - 1]);
  const endUser = async (email: string) =>
    ((await cluster.admin.call('GET', `/api/v1/projects/${projectId}/users?limit=100`)) as Array<Record<string, any>>).find((u) => u.email === email);
  /** Signs in through the login form: the redirect to the client with a code, or the page's status. */
  const signIn = async (username: string, password: string) => {
    const browser = new Browser();
    const page = await loginPage(browser);
    const res = await browser.postForm(`${issuer}/login`, { transaction: page.transaction, csrf: page.csrf, username, password });
    return { status: res.status, location: res.headers.get('location') ?? '' };
  };

  beforeAll(async () => {
    inbox = await SmtpInbox.start();
    cluster = await startCluster({
      environment: ENV,
      // The test is a trusted hop: a form may carry its own browser address (X-Forwarded-For), so one test's requests do not use up another's per-address limit.
      gateways: [{ GATEWAY_CLIENT_IP_HEADER: 'x-forwarded-for', GATEWAY_TRUSTED_PROXIES: '127.0.0.1' }],
      managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0', SMTP_URL: inbox.url, END_USER_PAGES_URL: PAGES },
    });
    issuer = `${cluster.gateways[0]!.baseUrl}/credential`;
    await addSigningKey(cluster, ENV, 'RS256');
    projectId = await createDeployedProject(cluster, ENV, `ssvc-${s}`, `/orders-${s}`);
    clientId = await createLoginClient(cluster, projectId, {
      name: 'web',
      secret: 'web-client-secret',
      settings: { grants: ['authorization_code'], oidc: { redirectUris: [RP] } },
    });
    await eventually(
      () => fetch(authorizeUrl()),
      (r) => r.status === 200,
      { what: 'the client to reach the Gateway', timeoutMs: 120_000 },
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await inbox?.stop();
  }, 60_000);

  it('offers "Forgot password?" but not "Create account" while the switch is off; the register page answers 403 registration_disabled', async () => {
    const browser = new Browser();
    const page = await loginPage(browser);
    expect(page.html).toContain('Forgot password?');
    expect(page.html).not.toContain('Create account');
    const res = await browser.get(`${issuer}/create-account?transaction=${page.transaction}`);
    expect(res.status).toBe(403);
    expect(outcomeOf(await res.text())).toBe('registration_disabled');
  });

  it('registers through the pages once the switch is on: verification mail, confirm page, email verified, and the new account signs in', async () => {
    await cluster.admin.call('PUT', `/api/v1/projects/${projectId}/end-user-registration`, { selfRegistration: true });
    const browser = new Browser();
    // The Gateway remembers the switch for a few seconds.
    const page = await eventually(
      () => loginPage(browser),
      (p) => p.html.includes('Create account'),
      { what: 'the login page to offer "Create account"', timeoutMs: 30_000 },
    );
    const form = await browser.get(`${issuer}/create-account?transaction=${page.transaction}`);
    expect(form.status).toBe(200);
    expect(form.headers.get('x-frame-options')).toBe('DENY');
    expect(form.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(form.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await form.text();
    const email = `reg-${s}@example.org`;
    const done = await browser.postForm(`${issuer}/create-account`, {
      transaction: field(html, 'transaction'),
      csrf: field(html, 'csrf'),
      email,
      password: 'registered-pass-1',
      confirm: 'registered-pass-1',
    });
    expect(done.status).toBe(200);
    expect(outcomeOf(await done.text())).toBe('accepted');
    const mail = await mailTo(email);
    expect(mail.raw).not.toContain('registered-pass-1');
    const link = linkOf(mail);
    expect(`${link.origin}${link.pathname}`).toBe(`${PAGES}/verify-email`);
    expect((await endUser(email))?.emailVerified).toBe(false);

    // The link's page only shows a button (a mail scanner's GET spends nothing); the POST confirms.
    const reader = new Browser();
    const confirmPage = await reader.get(onGateway(link));
    expect(confirmPage.status).toBe(200);
    const confirmHtml = await confirmPage.text();
    expect((await endUser(email))?.emailVerified).toBe(false);
    const confirm = { project: field(confirmHtml, 'project'), token: field(confirmHtml, 'token'), csrf: field(confirmHtml, 'csrf') };
    // Without the page's cookie (a cross-site form): refused, the link still works afterwards.
    const forged = await new Browser().postForm(`${issuer}/verify-email`, confirm);
    expect(forged.status).toBe(403);
    expect(outcomeOf(await forged.text())).toBe('csrf_failed');
    const confirmed = await reader.postForm(`${issuer}/verify-email`, confirm);
    expect(confirmed.status).toBe(200);
    expect(outcomeOf(await confirmed.text())).toBe('done');
    expect((await endUser(email))?.emailVerified).toBe(true);
    // Replayed: refused.
    const again = await reader.postForm(`${issuer}/verify-email`, confirm);
    expect(again.status).toBe(400);
    expect(outcomeOf(await again.text())).toBe('invalid_token');

    const login = await eventually(
      () => signIn(email, 'registered-pass-1'),
      (r) => r.status === 303,
      { what: 'the registered user to reach the Gateway and sign in', timeoutMs: 60_000 },
    );
    expect(login.location.startsWith(`${RP}?code=`)).toBe(true);
  });

  it('answers a taken address like a new one, refuses the form without its CSRF cookie, and refuses CR/LF in the address', async () => {
    const browser = new Browser();
    const page = await loginPage(browser);
    const post = (b: Browser, email: string, csrf = page.csrf) =>
      b.postForm(`${issuer}/create-account`, { transaction: page.transaction, csrf, email, password: 'another-pass-1', confirm: 'another-pass-1' });
    const taken = await post(browser, `reg-${s}@example.org`);
    const fresh = await post(browser, `new-${s}@example.org`);
    expect(taken.status).toBe(fresh.status);
    expect(await taken.text()).toBe(await fresh.text());
    const noCookie = await post(new Browser(), `x-${s}@example.org`);
    expect(noCookie.status).toBe(403);
    expect(outcomeOf(await noCookie.text())).toBe('csrf_failed');
    const wrong = await post(browser, `y-${s}@example.org`, 'x'.repeat(43));
    expect(wrong.status).toBe(403);
    const injected = await post(browser, `eve-${s}@example.org\r\nBcc: victim@example.org`);
    expect(injected.status).toBe(400);
    expect(await endUser(`x-${s}@example.org`)).toBeUndefined();
    expect(await endUser(`y-${s}@example.org`)).toBeUndefined();
    expect(inbox.mails.some((m) => m.raw.toLowerCase().includes('victim@example.org'))).toBe(false);
  });

  it('resets a password: the same page for an unknown address, the policy enforced, the link single-use, the new password signs in', async () => {
    const email = `rst-${s}@example.org`;
    await cluster.admin.endUsers.create(projectId, { username: `rst${s}`, password: 'old-password-1', email });
    const browser = new Browser();
    const page = await loginPage(browser);
    const ask = (address: string) => browser.postForm(`${issuer}/forgot-password`, { transaction: page.transaction, csrf: page.csrf, email: address });
    const unknown = await ask(`nobody-${s}@example.org`);
    const known = await ask(email);
    expect(unknown.status).toBe(200);
    expect(known.status).toBe(200);
    expect(await unknown.text()).toBe(await known.text());
    const link = linkOf(await mailTo(email));
    expect(link.pathname).toBe('/credential/reset-password');
    expect(inbox.to(`nobody-${s}@example.org`)).toEqual([]);

    const reader = new Browser();
    const formHtml = await (await reader.get(onGateway(link))).text();
    const hidden = { project: field(formHtml, 'project'), token: field(formHtml, 'token'), csrf: field(formHtml, 'csrf') };
    const weak = await reader.postForm(`${issuer}/reset-password`, { ...hidden, password: 'short', confirm: 'short' });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('at least 8 characters');
    const mismatch = await reader.postForm(`${issuer}/reset-password`, { ...hidden, password: 'new-password-22', confirm: 'new-password-23' });
    expect(mismatch.status).toBe(400);
    const set = await reader.postForm(`${issuer}/reset-password`, { ...hidden, password: 'new-password-22', confirm: 'new-password-22' });
    expect(set.status).toBe(200);
    expect(outcomeOf(await set.text())).toBe('done');
    const replay = await reader.postForm(`${issuer}/reset-password`, { ...hidden, password: 'third-password-3', confirm: 'third-password-3' });
    expect(replay.status).toBe(400);
    expect(outcomeOf(await replay.text())).toBe('invalid_token');
    const tampered = await reader.postForm(`${issuer}/reset-password`, {
      ...hidden,
      token: hidden.token.slice(0, -2) + 'zz',
      password: 'third-password-3',
      confirm: 'third-password-3',
    });
    expect(tampered.status).toBe(400);

    const login = await eventually(
      () => signIn(`rst${s}`, 'new-password-22'),
      (r) => r.status === 303,
      { what: 'the new password to reach the Gateway', timeoutMs: 60_000 },
    );
    expect(login.location.startsWith(`${RP}?code=`)).toBe(true);
    expect((await signIn(`rst${s}`, 'old-password-1')).status).toBe(401);
  });

  it('rate-limits reset requests per address with 429 and Retry-After', async () => {
    const browser = new Browser();
    const page = await loginPage(browser);
    const email = `flood-${s}@example.org`;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await browser.postForm(`${issuer}/forgot-password`, { transaction: page.transaction, csrf: page.csrf, email });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
  it('requires a verified email to sign in once the project says so: a resend form instead of a session (the same answer for any address), invalid_grant email_not_verified at both password grants; verified users and the switch off unaffected', async () => {
    const email = `unv-${s}@example.org`;
    await cluster.admin.endUsers.create(projectId, { username: `unv${s}`, password: 'unverified-pass-1', email });
    await cluster.admin.endUsers.create(projectId, { username: `ver${s}`, password: 'verified-pass-1', email: `ver-${s}@example.org`, emailVerified: true });
    const app = await createLoginClient(cluster, projectId, { name: `pw-${s}`, secret: 'pw-client-secret', settings: { grants: ['password'] } });
    const passwordGrant = async (path: '/token' | '/jwt', username: string, password: string) => {
      const res = await fetch(`${issuer}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${app}:pw-client-secret`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    // Off (the default): the unverified user signs in and gets tokens.
    await eventually(
      () => signIn(`unv${s}`, 'unverified-pass-1'),
      (r) => r.status === 303,
      { what: 'the users and the client to reach the Gateway', timeoutMs: 60_000 },
    );
    expect((await passwordGrant('/token', `unv${s}`, 'unverified-pass-1')).status).toBe(200);

    await cluster.admin.call('PUT', `/api/v1/projects/${projectId}/end-user-registration`, { selfRegistration: true, requireVerifiedEmail: true });
    const refusedLogin = async () => {
      const browser = new Browser();
      const page = await loginPage(browser);
      const res = await browser.postForm(`${issuer}/login`, { transaction: page.transaction, csrf: page.csrf, username: `unv${s}`, password: 'unverified-pass-1' });
      return { browser, res, html: await res.text() };
    };
    // Each Gateway reads the switch at most a couple of seconds late.
    const refused = await eventually(refusedLogin, (r) => r.res.status === 403, { what: 'the Gateway to apply the switch', timeoutMs: 30_000 });
    expect(outcomeOf(refused.html)).toBe('email_not_verified');
    expect(refused.res.headers.get('location')).toBeNull();
    expect(refused.res.headers.get('set-cookie') ?? '').not.toMatch(/idm_session|idm_sso/i);
    expect(refused.res.headers.get('x-frame-options')).toBe('DENY');
    // The page names no address; its form asks for one.
    expect(refused.html).not.toContain(email);
    expect(refused.html).toContain(`action="${issuer}/resend-verification"`);
    expect(await passwordGrant('/token', `unv${s}`, 'unverified-pass-1')).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: expect.stringContaining('(email_not_verified)') },
    });
    expect((await passwordGrant('/jwt', `unv${s}`, 'unverified-pass-1')).body.error_description).toContain('(email_not_verified)');
    // A wrong password still reads as a wrong password: the state shows only to whoever knows the password.
    expect((await passwordGrant('/token', `unv${s}`, 'wrong-password-1')).body.error_description).not.toContain('email_not_verified');
    expect((await signIn(`unv${s}`, 'wrong-password-1')).status).toBe(401);
    // Verified users are not held back, on either path.
    expect((await signIn(`ver${s}`, 'verified-pass-1')).status).toBe(303);
    expect((await passwordGrant('/jwt', `ver${s}`, 'verified-pass-1')).status).toBe(200);

    // The resend form: the same answer for an unknown address and for the user's; only the user gets a mail.
    const sentBefore = inbox.mails.length;
    const resend = (address: string) =>
      refused.browser.postForm(
        `${issuer}/resend-verification`,
        { transaction: field(refused.html, 'transaction'), csrf: field(refused.html, 'csrf'), email: address },
        { 'x-forwarded-for': '198.51.100.77' },
      );
    const unknown = await resend(`nobody-${s}@example.org`);
    const known = await resend(email);
    expect([unknown.status, known.status]).toEqual([200, 200]);
    const [unknownHtml, knownHtml] = [await unknown.text(), await known.text()];
    expect(unknownHtml).toBe(knownHtml);
    expect(outcomeOf(knownHtml)).toBe('accepted');
    const mail = await mailTo(email);
    expect(inbox.mails.slice(sentBefore).map((x) => x.to)).toEqual([[email]]);
    // A forged form (no CSRF token of the login) sends nothing.
    expect((await new Browser().postForm(`${issuer}/resend-verification`, { transaction: field(refused.html, 'transaction'), csrf: 'forged', email })).status).toBe(403);

    // Confirmed through the new link: the same user signs in, and the password grant answers tokens.
    const reader = new Browser();
    const confirmHtml = await (await reader.get(onGateway(linkOf(mail)))).text();
    const confirmed = await reader.postForm(`${issuer}/verify-email`, {
      project: field(confirmHtml, 'project'),
      token: field(confirmHtml, 'token'),
      csrf: field(confirmHtml, 'csrf'),
    });
    expect(outcomeOf(await confirmed.text())).toBe('done');
    await eventually(
      () => signIn(`unv${s}`, 'unverified-pass-1'),
      (r) => r.status === 303,
      { what: 'the verified email to reach the Gateway', timeoutMs: 60_000 },
    );
    expect((await passwordGrant('/token', `unv${s}`, 'unverified-pass-1')).status).toBe(200);
    await cluster.admin.call('PUT', `/api/v1/projects/${projectId}/end-user-registration`, { selfRegistration: true });
  }, 240_000);
});
