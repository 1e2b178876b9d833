import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { TestPki } from '@idm/test-kit';
import { sessionOf, shot } from './support/console-browser';
import { consoleSuite } from './support/console-suite';
import { startExternalIdp, type ExternalIdp } from './support/external-oidc-idps';
import { TestSamlIdp } from './support/saml-idp';

const ENV = 'console-operator-sso-e2e';
const SOURCE = 'corp-idp';
const SAML_SOURCE = 'corp-saml';
const IDP_CLIENT_SECRET = `console-sso-${randomBytes(8).toString('hex')}`;
// Two round trips through an IdP's pages in a browser on a loaded machine.
jest.setTimeout(300_000);

/**
 * Operator single sign-on in a real Chromium (#16, #18): the sign-in screen offers "Sign in with
 * <source>" for an `oidc` System source with operatorLogin; the operator signs in at a real
 * OpenID Provider (oidc-provider, npm, its development login pages) and lands in the console as
 * the provisioned `<source>:<user>`, seeing what its group's binding allows (one project, not
 * the other); an IdP account the source refuses comes back to the sign-in screen with the
 * problem's detail, signed in as nobody. The same through a SAML 2.0 IdP (assertions signed by
 * `saml`, npm), its auto-posting form sent from its own site (localhost, the console is on
 * 127.0.0.1): the ACS takes the cross-site POST, the browser comes back with its cookie.
 */
describe('the console: operator single sign-on through an external OpenID Provider and a SAML IdP in Chromium', () => {
  const suite = consoleSuite({ environment: ENV, gateways: [] });
  let idp: ExternalIdp;
  let pki: TestPki;
  let samlIdp: TestSamlIdp;
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
    pki = await TestPki.create();
    const signer = await pki.issue('saml-idp', { subject: '/CN=test-saml-idp', rsa: true });
    samlIdp = await TestSamlIdp.start(signer);
    await admin.call('POST', '/api/v1/identity-sources', {
      name: SAML_SOURCE,
      description: 'Corporate SAML',
      type: 'saml',
      // Another site than the console's (127.0.0.1): the IdP's POST to the ACS is cross-site.
      config: { idpEntityId: samlIdp.entityId, ssoUrl: samlIdp.ssoUrl.replace('127.0.0.1', 'localhost'), idpCertificates: [signer.cert] },
      roleMappings: {},
      operatorLogin: { enabled: true, groupBindings: [{ group: 'staff', role: 'project-editor', scope: `project:${bound.id}` }] },
    });
  }, 120_000);

  afterAll(async () => {
    idp?.child.stdin.end();
    idp?.child.kill();
    await samlIdp?.stop();
    await pki?.remove();
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

  it('signs an operator in through a SAML IdP: its form posts to the ACS cross-site, the console opens as the provisioned operator', async () => {
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${suite.ui}/`);
    const button = page.getByRole('link', { name: 'Sign in with Corporate SAML' });
    await button.waitFor();
    await page.getByRole('link', { name: 'Sign in with Corporate IdP' }).waitFor(); // both protocols side by side
    await button.click();
    // The IdP signs "alice" in and answers its form to our ACS; real IdPs post it on load.
    await page.waitForURL((url) => url.hostname === 'localhost');
    await page.locator('form').evaluate((form) => (form as unknown as { submit(): void }).submit());

    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(new URL(page.url()).search).toBe('');
    await page.getByText(`${SAML_SOURCE}:alice`).first().waitFor();
    await page.getByRole('link', { name: bound.name }).waitFor();
    expect(await page.getByRole('link', { name: other.name }).count()).toBe(0);
    expect(JSON.parse((await sessionOf(page))!)).toMatchObject({ username: `${SAML_SOURCE}:alice`, token: expect.stringMatching(/^idms_/) });
    await shot(page, 'sso-04-signed-in-saml');
    await context.close();
  });
});
