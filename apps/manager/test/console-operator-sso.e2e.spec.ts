import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { sessionOf, shot } from './support/console-browser';
import { consoleSuite } from './support/console-suite';
import { startExternalIdp, type ExternalIdp } from './support/external-oidc-idps';

const ENV = 'console-operator-sso-e2e';
const SOURCE = 'corp-idp';
const IDP_CLIENT_SECRET = `console-sso-${randomBytes(8).toString('hex')}`;
// Two round trips through an IdP's pages in a browser on a loaded machine.
jest.setTimeout(300_000);

/**
 * Operator single sign-on in a real Chromium (#16, #18): the sign-in screen offers "Sign in with
 * <source>" for an `oidc` System source with operatorLogin; the operator signs in at a real
 * OpenID Provider (oidc-provider, npm, its development login pages) and lands in the console as
 * the provisioned `<source>:<user>`, seeing what its group's binding allows (one project, not
 * the other); an IdP account the source refuses comes back to the sign-in screen with the
 * problem's detail, signed in as nobody.
 */
describe('the console: operator single sign-on through an external OpenID Provider in Chromium', () => {
  const suite = consoleSuite({ environment: ENV, gateways: [] });
  let idp: ExternalIdp;
  let bound: { id: string; name: string };
  let other: { id: string; name: string };

  beforeAll(async () => {
    idp = await startExternalIdp(`${suite.cluster.manager.baseUrl}/api/v1/auth/sso/${SOURCE}/callback`, IDP_CLIENT_SECRET);
    const admin = suite.cluster.admin;
    bound = await admin.projects.create({ name: 'sso-payments' });
    other = await admin.projects.create({ name: 'sso-elsewhere' });
    await admin.call('POST', '/api/v1/identity-sources', {
      name: SOURCE,
      description: 'Corporate IdP',
      type: 'oidc',
      config: { issuer: idp.issuer, clientId: 'idm-gateway', scopes: ['openid', 'email', 'profile'], requiredClaims: { email_verified: [true] } },
      secret: IDP_CLIENT_SECRET,
      roleMappings: {},
      operatorLogin: { enabled: true, groupBindings: [{ group: 'staff', role: 'project-editor', scope: `project:${bound.id}` }] },
    });
  }, 120_000);

  afterAll(() => {
    idp?.child.stdin.end();
    idp?.child.kill();
  });

  /** The IdP's development pages: the login form (any password), then consent, until the browser is sent back. */
  async function signInAtIdp(page: Page, login: string): Promise<void> {
    await page.waitForURL((url) => url.origin === idp.issuer);
    for (let step = 0; step < 4 && new URL(page.url()).origin === idp.issuer; step++) {
      const at = page.url();
      const submit = page.locator('button[type="submit"]').first();
      await submit.waitFor();
      if ((await page.locator('input[name="login"]').count()) > 0) {
        await page.locator('input[name="login"]').fill(login);
        await page.locator('input[name="password"]').fill('any-password');
      }
      await submit.click();
      await page.waitForURL((url) => url.href !== at);
    }
  }

  it('signs an operator in through the IdP: the console opens as the provisioned operator with its bound role', async () => {
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${suite.ui}/`);
    const button = page.getByRole('link', { name: 'Sign in with Corporate IdP' });
    await button.waitFor();
    await shot(page, 'sso-01-sign-in-buttons');
    await button.click();
    await signInAtIdp(page, 'alice');

    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(new URL(page.url()).search).toBe(''); // nothing of the handoff left in the address bar
    await page.getByText(`${SOURCE}:alice`).first().waitFor(); // the operator's name in the header
    await page.getByRole('link', { name: bound.name }).waitFor();
    expect(await page.getByRole('link', { name: other.name }).count()).toBe(0);
    expect(JSON.parse((await sessionOf(page))!)).toMatchObject({ username: `${SOURCE}:alice`, token: expect.stringMatching(/^idms_/) });
    await shot(page, 'sso-02-signed-in');

    // The bound role at work: project-editor may add a proxy in its project.
    await page.getByRole('link', { name: bound.name }).click();
    await page.getByRole('button', { name: 'New API proxy' }).waitFor();
    await context.close();
  });

  it('brings an account the source refuses back to the sign-in screen with the problem’s detail', async () => {
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${suite.ui}/`);
    await page.getByRole('link', { name: 'Sign in with Corporate IdP' }).click();
    await signInAtIdp(page, 'out-eve'); // email_verified: false, a required claim
    const alert = page.getByRole('alert');
    await alert.getByText('lacks a claim this source requires').waitFor();
    await shot(page, 'sso-03-refused');
    expect(await sessionOf(page)).toBeNull();
    await expect(page.getByRole('button', { name: 'Sign in', exact: true }).isVisible()).resolves.toBe(true);
    await context.close();
  });
});
