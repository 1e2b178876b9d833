import { createHash, randomBytes } from 'node:crypto';
import { eventually } from '@idm/test-kit';
import type { Page } from 'playwright-core';
import { shot, sidewaysScroll, tabTo } from './support/console-browser';
import { consoleSuite, projectViewer } from './support/console-suite';
import { addSigningKey, createDeployedProject } from './support/login-cluster';
import { linkOf, SmtpInbox } from './support/smtp-inbox';

const ENV = 'console-eu';
const RP = 'https://rp.example/cb';
jest.setTimeout(600_000);

/**
 * The project's registration screen and the end users' mail buttons in a real Chromium against a
 * real Manager and Gateway and a real SMTP server of the test: the operator turns end-user
 * self-registration and dynamic client registration on, creates an initial access token (shown
 * once, copied) that then registers a client at the Gateway's /credential/register — whose login
 * page offers "Create account" — and revokes it after a confirmation (the Gateway refuses it
 * after); sends a verification and a password reset mail that arrive with their links, and sees
 * the problem's detail when the SMTP server refuses one. A project viewer sees the settings and
 * tokens with no switch or button. Keyboard, axe-core and a 390 px window are checked; the
 * screenshots land in .test-output/console/.
 */
describe('registration settings, initial access tokens and end-user mails in the console (Chromium)', () => {
  // The Manager's SMTP server is the test's, started first (beforeAll hooks run in order) so the
  // cluster, started by the suite's beforeAll, reads its URL from this environment.
  const managerEnv: Record<string, string> = { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0', END_USER_PAGES_URL: 'https://gw.example.test/credential' };
  let inbox: SmtpInbox;
  beforeAll(async () => {
    inbox = await SmtpInbox.start();
    managerEnv.SMTP_URL = inbox.url;
  });
  afterAll(async () => {
    await inbox?.stop();
  });
  const suite = consoleSuite({ environment: ENV, gateways: [{}], managerEnv });
  const s = randomBytes(3).toString('hex');
  let projectId: string;

  const issuer = () => `${suite.cluster.gateways[0].baseUrl}/credential`;
  const register = async (token: string) => {
    const res = await fetch(`${issuer()}/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [RP], client_name: 'partner app' }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  /** The Gateway's login page for `clientId` (an authorization request with PKCE). */
  const loginPage = async (clientId: string) => {
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: RP,
      scope: 'openid',
      state: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const res = await fetch(`${issuer()}/authorize?${q}`);
    return { status: res.status, html: await res.text() };
  };
  const mailsTo = (email: string, n: number) =>
    eventually(
      () => Promise.resolve(inbox.to(email)),
      (mails) => mails.length >= n,
      { what: `mail #${n} to ${email}`, timeoutMs: 30_000 },
    );
  const registrationTab = (page: Page) => page.goto(`${suite.ui}/projects/${projectId}?tab=registration`);

  beforeAll(async () => {
    await addSigningKey(suite.cluster, ENV, 'RS256');
    projectId = await createDeployedProject(suite.cluster, ENV, `eu-console-${s}`, `/eu-orders-${s}`);
  });

  it('turns both registrations on, issues a token that registers a client at the Gateway, and revokes it', async () => {
    const admin = suite.cluster.admin;
    const settingsOf = (resource: string) => admin.call('GET', `/api/v1/projects/${projectId}/${resource}`);
    const { context, page } = await suite.signedIn();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.cluster.manager.baseUrl });
    const dialog = page.getByRole('dialog');
    await page.goto(`${suite.ui}/projects/${projectId}`);
    await page.getByRole('tab', { name: 'Registration' }).click();
    await page.getByRole('heading', { name: 'End-user self-registration' }).waitFor();
    await page.getByText(/No initial access tokens\. Create one/).waitFor();
    await shot(page, 'eu-40-registration-off');

    // The switches are the forms the contract's schemas make: checked and saved.
    const selfRegistration = page.getByRole('checkbox', { name: /^Self registration/ });
    expect(await selfRegistration.isChecked()).toBe(false);
    await selfRegistration.check();
    await page.getByRole('button', { name: 'Save self-registration' }).click();
    await page.getByText('Self-registration settings saved').waitFor();
    expect(await settingsOf('end-user-registration')).toMatchObject({ selfRegistration: true });
    await page.getByRole('checkbox', { name: /^Enabled/ }).check();
    await page.getByRole('button', { name: 'Save client registration' }).click();
    await page.getByText('Client registration settings saved').waitFor();
    expect(await settingsOf('client-registration')).toEqual({ enabled: true });

    // A token, by keyboard: the create button is reached with Tab and opened with Enter.
    await page.getByRole('checkbox', { name: /^Enabled/ }).focus();
    await tabTo(page, 'New initial access token');
    await page.keyboard.press('Enter');
    await dialog.getByRole('textbox', { name: /^Description/ }).fill('partner onboarding');
    // The Manager's finding on a value the form let through is the problem's detail, nothing stored.
    await dialog.getByRole('spinbutton', { name: /^Expires in seconds/ }).fill('30');
    await dialog.getByRole('button', { name: 'Create initial access token' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Not done' }).waitFor();
    expect(await settingsOf('initial-access-tokens')).toEqual([]);
    await dialog.getByRole('spinbutton', { name: /^Expires in seconds/ }).fill('3600');
    await dialog.getByRole('button', { name: 'Create initial access token' }).click();
    const issued = page.getByTestId('issued-initial-access-token');
    await issued.waitFor();
    const token = (await issued.textContent())!.trim();
    expect(token).toMatch(/^iat_/);
    await page.getByRole('button', { name: 'Copy token' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    await shot(page, 'eu-41-initial-access-token-shown-once');
    await page.keyboard.press('Escape');
    await issued.waitFor({ state: 'hidden' });
    const [stored] = (await settingsOf('initial-access-tokens')) as { id: string; prefix: string; description: string }[];
    expect(stored).toMatchObject({ description: 'partner onboarding', prefix: token.slice(0, stored.prefix.length) });

    // The token shown is real: it registers a client at the Gateway (once the switch got there)...
    const registered = await eventually(
      () => register(token),
      (r) => r.status === 201,
      { what: 'a client registered with the token', timeoutMs: 60_000 },
    );
    expect(registered.body.client_id).toBeTruthy();
    // ...whose login page offers "Create account", the other switch turned on here.
    await eventually(
      () => loginPage(registered.body.client_id),
      (p) => p.status === 200 && p.html.includes('Create account'),
      { what: 'the login page of the registered client to offer "Create account"', timeoutMs: 60_000 },
    );
    await page.reload();
    const row = page.getByRole('table', { name: 'Initial access tokens' }).getByRole('row').filter({ hasText: 'partner onboarding' });
    await row.getByRole('cell', { name: '1', exact: true }).waitFor();
    await shot(page, 'eu-42-registration-on');
    // Checked with a token listed (its revoke button) and with the create form open.
    const registration = `/projects/${projectId}?tab=registration`;
    const openTokenForm = (p: Page) => p.getByRole('button', { name: 'New initial access token' }).click();
    expect(await suite.seriousViolationsIn(context, [registration])).toEqual([]);
    expect(await suite.seriousViolationsIn(context, [registration], openTokenForm)).toEqual([]);
    expect(
      await sidewaysScroll(
        suite.browser,
        suite.ui,
        page,
        [
          ['registration', registration],
          ['initial-access-token-form', registration, openTokenForm],
        ],
        390,
      ),
    ).toEqual([
      ['registration', 0],
      ['initial-access-token-form', 0],
    ]);

    // Revoked after a confirmation that says what follows; the Gateway refuses the token after.
    await page.getByRole('button', { name: `Revoke initial access token ${stored.prefix}` }).click();
    await dialog.getByText('Clients already registered with it stay').waitFor();
    await shot(page, 'eu-43-revoke-confirmation');
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText(/No initial access tokens\. Create one/).waitFor();
    expect(await settingsOf('initial-access-tokens')).toEqual([]);
    await eventually(
      () => register(token),
      (r) => r.status === 401 && r.body.error === 'invalid_token',
      { what: 'the Gateway to refuse the revoked token', timeoutMs: 30_000 },
    );
    // The registered client stays an OIDC client of the project.
    const clients = (await admin.call('GET', `/api/v1/projects/${projectId}/oidc-clients`)) as { credentialId: string }[];
    expect(clients.map((c) => c.credentialId)).toContain(registered.body.client_id);

    await context.close();
  });

  it("sends an end user the verification and password reset mails, and shows the problem's detail when the SMTP server refuses", async () => {
    const admin = suite.cluster.admin;
    const bob = await admin.endUsers.create(projectId, { username: `bob-${s}`, email: `bob-${s}@example.org`, password: 'bob-password-1' });
    const refused = await admin.endUsers.create(projectId, { username: `carol-${s}`, email: `carol-${s}@example.org` });
    inbox.refuse.add(refused.email);
    const { context, page } = await suite.signedIn();
    await page.goto(`${suite.ui}/projects/${projectId}?tab=end-users`);
    await page.getByRole('cell', { name: bob.username, exact: true }).waitFor();

    await page.getByRole('button', { name: `Send verification mail to ${bob.username}` }).click();
    const sent = page.getByRole('status').filter({ hasText: 'Mail sent' });
    await sent.getByText(`The verification mail for ${bob.username} went to ${bob.email}`).waitFor();
    const [verification] = await mailsTo(bob.email, 1);
    expect(linkOf(verification).pathname).toBe('/credential/verify-email');
    await shot(page, 'eu-44-verification-mail-sent');

    await page.getByRole('button', { name: `Send password reset mail to ${bob.username}` }).click();
    await sent.getByText(`The password reset mail for ${bob.username} went to ${bob.email}`).waitFor();
    const mails = await mailsTo(bob.email, 2);
    expect(linkOf(mails[1]).pathname).toBe('/credential/reset-password');

    // The SMTP server refuses the address: the problem's detail, no "sent".
    await page.getByRole('button', { name: `Send verification mail to ${refused.username}` }).click();
    await page.getByRole('alert').filter({ hasText: 'the SMTP server did not accept the mail; try again later' }).waitFor();
    expect(await sent.count()).toBe(0);
    await shot(page, 'eu-45-mail-refused');
    const audit = await admin.audit.query({ entityKind: 'end_user_mail', entityId: bob.id });
    expect(audit.items.map((e) => e.action).sort()).toEqual(['end_user_mail.reset_password', 'end_user_mail.verify_email']);

    const endUsers = `/projects/${projectId}?tab=end-users`;
    expect(await suite.seriousViolationsIn(context, [endUsers])).toEqual([]);
    expect(await sidewaysScroll(suite.browser, suite.ui, page, [['end-users-mails', endUsers]], 390)).toEqual([['end-users-mails', 0]]);
    await context.close();
  });

  it('shows a project viewer the settings and tokens with no switch, form or button', async () => {
    const admin = suite.cluster.admin;
    await admin.call('PUT', `/api/v1/projects/${projectId}/end-user-registration`, { selfRegistration: true });
    await admin.call('POST', `/api/v1/projects/${projectId}/initial-access-tokens`, { description: 'for the viewer to see' });
    const dave = await admin.endUsers.create(projectId, { username: `dave-${s}`, email: `dave-${s}@example.org` });
    await projectViewer(admin, projectId, `eu-viewer-${s}`, 'eu-viewer-password');
    const { context, page } = await suite.signedIn(`eu-viewer-${s}`, 'eu-viewer-password');
    await registrationTab(page);
    await page.getByRole('table', { name: 'End-user self-registration' }).getByRole('row', { name: 'Self registration On' }).waitFor();
    await page.getByRole('table', { name: 'Initial access tokens' }).getByText('for the viewer to see').waitFor();
    expect(await page.getByText('You may look at these settings but not change them.').count()).toBe(2);
    expect(await page.getByRole('checkbox').count()).toBe(0);
    for (const name of ['Save self-registration', 'Save client registration', 'New initial access token', /^Revoke/])
      expect(await page.getByRole('button', { name }).count()).toBe(0);
    await shot(page, 'eu-46-registration-viewer');

    await page.goto(`${suite.ui}/projects/${projectId}?tab=end-users`);
    await page.getByRole('cell', { name: dave.username, exact: true }).waitFor();
    expect(await page.getByRole('button', { name: /^Send / }).count()).toBe(0);
    // The API decides anyway: the viewer's own call is refused.
    const session = JSON.parse((await page.evaluate(() => sessionStorage.getItem('idm.session')))!) as { token: string };
    const forbidden = await fetch(`${suite.cluster.manager.baseUrl}/api/v1/projects/${projectId}/users/${dave.id}/verification-mail`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.token}` },
    });
    expect(forbidden.status).toBe(403);
    expect(await suite.seriousViolationsIn(context, [`/projects/${projectId}?tab=registration`])).toEqual([]);
    await context.close();
  });
});
