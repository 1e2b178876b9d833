import { oidcConsentKey } from '@idm/config-bus';
import { eventually } from '@idm/test-kit';
import Redis from 'ioredis';
import type { Page } from 'playwright-core';
import { shot, sidewaysScroll, tabTo } from './support/console-browser';
import { consoleSuite, fieldGroup, projectViewer } from './support/console-suite';

/**
 * The console's screens for a credential's ACL proxies and its OIDC client (#18), in a real
 * Chromium against a real Manager and Gateway: proxies picked by name (the ACL keeps their ids)
 * and enforced by the Gateway; a credential's OIDC client settings listed and edited (a refusal
 * on the field it names, nothing written); an end user's consents listed and revoked after a
 * confirmation, from the end user or from the client's consents, by keyboard; a project viewer sees
 * the consents with no way to revoke them; Escape closes a confirmation alone; the OIDC clients tab,
 * the consents and the confirmation fit a 390 px phone. axe-core finds nothing serious on the new dialogs.
 * Screenshots land in .test-output/console/.
 */
const ENV = 'console-oidc-acl';
// A browser session through several dialogs on a loaded machine.
jest.setTimeout(420_000);

describe('the console: ACL proxies by name, OIDC clients and consents in Chromium', () => {
  const suite = consoleSuite({ environment: ENV, gateways: [{}] });

  it('limits a credential to proxies picked by name; the Gateway enforces the ACL', async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'acl-by-name' });
    const proxy = (name: string) =>
      admin.proxies.create(project.id, { name, basePath: `/${name}`, upstreamUrl: suite.cluster.echoUrl, policies: [{ type: 'api-key', config: {} }], environments: [ENV] });
    const orders = await proxy('orders');
    await proxy('billing');
    const credential = await admin.credentials.create(project.id, { username: 'partner-app' });
    const call = (path: string) => fetch(`${suite.cluster.gateways[0].baseUrl}${path}/x`, { headers: { 'x-api-key': credential.apiKey!.key } }).then((r) => r.status);
    await eventually(
      () => call('/billing'),
      (s) => s === 200,
      { what: 'the proxies deployed, every proxy allowed' },
    );

    const { context, page } = await suite.signedIn();
    const dialog = page.getByRole('dialog');
    await page.goto(`${suite.ui}/projects/${project.id}?tab=credentials`);
    await page.getByRole('button', { name: 'Rules of partner-app' }).click();
    // A picker of the project's proxies by name, not a list of id fields.
    await dialog.locator('#rules_acl_allowedProxies').click();
    await page.getByRole('option', { name: 'orders (/orders)' }).click();
    await dialog.getByText('None chosen: every proxy of the project.').click(); // closes the list
    await dialog.getByText('orders (/orders)').waitFor();
    await shot(page, '30-credential-acl-proxies-by-name');
    await dialog.getByRole('button', { name: 'Save rules' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const access = (await admin.call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}`)).access;
    expect(access.acl.allowedProxies).toEqual([orders.id]);

    await eventually(
      () => call('/billing'),
      (s) => s === 403,
      { what: 'the Gateway refusing the proxy the ACL leaves out' },
    );
    expect(await call('/orders')).toBe(200);

    // Opened again: the chosen proxy shows by name.
    await page.getByRole('button', { name: 'Rules of partner-app' }).click();
    await dialog.getByText('orders (/orders)').waitFor();
    expect(await dialog.locator('input[id^="rules_acl_allowedProxies_"]').count()).toBe(0);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    expect(await suite.seriousViolationsIn(context, [`/projects/${project.id}?tab=credentials`], (p) => p.getByRole('button', { name: 'Rules of partner-app' }).click())).toEqual(
      [],
    );
    await context.close();
  });

  it("lists and edits a credential's OIDC client settings, and revokes an end user's consent to it after a confirmation", async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'oidc-clients' });
    const client = await admin.credentials.create(project.id, { username: 'web-portal', password: 'web-portal-secret-long', issueApiKey: false });
    // It already gets tokens for itself: becoming an OIDC client keeps that grant.
    await admin.credentials.putTokenSettings(project.id, client.id, { grants: ['client_credentials'] });
    const { context, page } = await suite.signedIn();
    const dialog = page.getByRole('dialog');
    const settingsOf = () => admin.call('GET', `/api/v1/projects/${project.id}/credentials/${client.id}/token-settings`);

    await page.goto(`${suite.ui}/projects/${project.id}?tab=credentials`);
    await page.getByRole('button', { name: 'OIDC client web-portal' }).click();
    await dialog.getByText('web-portal is not an OIDC client').waitFor();
    await dialog.getByRole('button', { name: 'Make it an OIDC client' }).click();
    await dialog.locator('#oidc_redirectUris_0').fill('https://portal.example.com/callback');
    await dialog.locator('#oidc_requirePar').check();
    await dialog.locator('#oidc_consentRequired').check();
    // A public client that would authenticate with a secret: refused on that field, nothing written.
    await dialog.locator('#oidc_clientType').selectOption('public');
    await dialog.getByRole('button', { name: 'Save OIDC client' }).click();
    await fieldGroup(page, 'oidc_tokenEndpointAuthMethod')
      .getByText(/public client authenticates with "none"/)
      .waitFor();
    await shot(page, '31-oidc-client-field-error');
    expect((await settingsOf()).oidc).toBeNull();
    await dialog.locator('#oidc_clientType').selectOption('confidential');
    await dialog.getByRole('button', { name: 'Save OIDC client' }).click();

    // Back on the settings at a glance.
    const summary = dialog.getByRole('table', { name: 'OIDC client settings' });
    await summary.getByText('https://portal.example.com/callback').waitFor();
    await summary.getByRole('row', { name: /Pushed authorization requests \(PAR\) required/ }).waitFor();
    await summary.getByRole('row', { name: /Grant types client_credentials authorization_code/ }).waitFor();
    await shot(page, '32-oidc-client-settings');
    const settings = await settingsOf();
    expect([settings.grants, settings.oidc.redirectUris, settings.oidc.requirePar, settings.oidc.consentRequired, settings.oidc.clientType]).toEqual([
      ['client_credentials', 'authorization_code'],
      ['https://portal.example.com/callback'],
      true,
      true,
      'confidential',
    ]);
    expect(await suite.seriousViolationsIn(context, [`/projects/${project.id}?tab=credentials`], (p) => p.getByRole('button', { name: 'OIDC client web-portal' }).click())).toEqual(
      [],
    );
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    // An end user who agreed at the consent page (seeded as the Gateway's consent page leaves it).
    const ada = await admin.endUsers.create(project.id, { username: 'ada', email: 'ada@example.com' });
    const redis = new Redis(suite.cluster.redis.url);
    await redis.hset(oidcConsentKey(ENV, ada.id), client.id, 'openid email').finally(() => redis.disconnect());
    // The project's OIDC clients, and who consented to each.
    await page.goto(`${suite.ui}/projects/${project.id}?tab=oidc-clients`);
    const clientRow = page.getByRole('table', { name: 'OIDC clients' }).getByRole('row').filter({ hasText: 'web-portal' });
    await clientRow.getByText('https://portal.example.com/callback').waitFor();
    await clientRow.getByText('asked', { exact: true }).waitFor();
    await clientRow.getByRole('button', { name: 'Consents to web-portal' }).click();
    const byClient = dialog.getByRole('table', { name: 'Consents to web-portal' });
    await byClient.getByRole('row').filter({ hasText: 'ada' }).getByText('openid email', { exact: true }).waitFor();
    await byClient.getByText(ENV, { exact: true }).waitFor();
    expect(
      await suite.seriousViolationsIn(context, [`/projects/${project.id}?tab=oidc-clients`], (p) => p.getByRole('button', { name: 'Consents to web-portal' }).click()),
    ).toEqual([]);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    await page.goto(`${suite.ui}/projects/${project.id}?tab=end-users`);
    await page.getByRole('button', { name: 'Consents of ada' }).click();
    const consents = dialog.getByRole('table', { name: 'Consents of ada' });
    const row = consents.getByRole('row').filter({ hasText: 'web-portal' });
    await row.getByText('email', { exact: true }).waitFor();
    await row.getByText(ENV).waitFor();
    await shot(page, '33-end-user-consents');
    expect(await suite.seriousViolationsIn(context, [`/projects/${project.id}?tab=end-users`], (p) => p.getByRole('button', { name: 'Consents of ada' }).click())).toEqual([]);

    // Revoking asks first; cancelling keeps the consent.
    await row.getByRole('button', { name: 'Revoke consent to web-portal' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke consent' });
    await confirm.getByText('ada is asked again the next time web-portal sends them to sign in').waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    expect(await admin.call('GET', `/api/v1/projects/${project.id}/users/${ada.id}/consents`)).toHaveLength(1);
    await row.getByRole('button', { name: 'Revoke consent to web-portal' }).click();
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await dialog.getByText('ada has consented to no OIDC client').waitFor();
    expect(await admin.call('GET', `/api/v1/projects/${project.id}/users/${ada.id}/consents`)).toEqual([]);
    const audit = await admin.call('GET', `/api/v1/audit?entityKind=end_user_consent`);
    expect(audit.items.map((e: { action: string; actor: { source: string } }) => [e.action, e.actor.source])).toContainEqual(['end_user_consent.revoke', 'ui']);
    await context.close();
  });

  it("revokes one end user's consent from the OIDC client's consents, by keyboard after a confirmation; a project viewer cannot", async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'client-consents' });
    const client = await admin.credentials.create(project.id, { username: 'mobile-app', password: 'mobile-app-secret-long', issueApiKey: false });
    await admin.credentials.putTokenSettings(project.id, client.id, {
      grants: ['authorization_code'],
      oidc: { redirectUris: ['https://mobile.example.com/cb'], consentRequired: true },
    });
    const bob = await admin.endUsers.create(project.id, { username: 'bob', email: 'bob@example.com' });
    const cy = await admin.endUsers.create(project.id, { username: 'cy', email: 'cy@example.com' });
    const redis = new Redis(suite.cluster.redis.url);
    try {
      for (const user of [bob, cy]) await redis.hset(oidcConsentKey(ENV, user.id), client.id, 'openid profile');
    } finally {
      redis.disconnect();
    }
    const consentsOf = (userId: string): Promise<unknown[]> => admin.call('GET', `/api/v1/projects/${project.id}/users/${userId}/consents`);

    const { context, page } = await suite.signedIn();
    await page.goto(`${suite.ui}/projects/${project.id}?tab=oidc-clients`);
    await page.getByRole('table', { name: 'OIDC clients' }).getByText('mobile-app').waitFor();
    await tabTo(page, 'Consents to mobile-app');
    await page.keyboard.press('Enter');
    const consents = page.getByRole('dialog', { name: 'Consents to mobile-app' }).getByRole('table', { name: 'Consents to mobile-app' });
    await consents.getByRole('row').filter({ hasText: 'cy' }).waitFor();
    await tabTo(page, `Revoke consent of bob in ${ENV}`);
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('dialog', { name: 'Revoke consent' });
    await confirm.getByText('bob is asked again the next time mobile-app sends them to sign in').waitFor();
    await shot(page, '34-client-consent-revoke');
    // Cancel leaves the consent as it was.
    await tabTo(page, 'Cancel');
    await page.keyboard.press('Enter');
    await confirm.waitFor({ state: 'hidden' });
    expect(await consentsOf(bob.id)).toHaveLength(1);
    await consents.getByRole('button', { name: `Revoke consent of bob in ${ENV}` }).focus();
    await page.keyboard.press('Enter');
    await tabTo(page, 'Revoke');
    await page.keyboard.press('Enter');
    await eventually(
      () => consents.getByRole('row').filter({ hasText: 'bob' }).count(),
      (n) => n === 0,
      { what: "bob's consent gone from the client's consents", timeoutMs: 30_000 },
    );
    await consents.getByRole('row').filter({ hasText: 'cy' }).waitFor();
    expect(await consentsOf(bob.id)).toEqual([]);
    expect(await consentsOf(cy.id)).toHaveLength(1);
    const audit = await admin.call('GET', `/api/v1/audit?entityKind=end_user_consent`);
    expect(audit.items.map((e: { action: string; actor: { source: string } }) => [e.action, e.actor.source])).toContainEqual(['end_user_consent.revoke', 'ui']);

    // Escape closes the confirmation alone (the consents stay open, cy's consent kept), then the consents.
    const consentsDialog = page.getByRole('dialog', { name: 'Consents to mobile-app' });
    const revokeCy = consents.getByRole('button', { name: `Revoke consent of cy in ${ENV}` });
    await revokeCy.focus();
    await page.keyboard.press('Enter');
    await confirm.getByText('cy is asked again the next time mobile-app sends them to sign in').waitFor();
    // The key goes to the button pressed, as when it comes before the confirmation's focus trap has
    // moved the focus (a loaded machine): the confirmation takes it, not the consents under it.
    await revokeCy.evaluate((button: HTMLElement) => button.focus());
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    await consents.getByRole('row').filter({ hasText: 'cy' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(`Revoke consent of cy in ${ENV}`);
    await page.keyboard.press('Escape');
    await consentsDialog.waitFor({ state: 'hidden' });
    expect(await consentsOf(cy.id)).toHaveLength(1);

    // The end user's own consents, by keyboard: opened with Enter, the revoke button focused visibly, closed with Escape.
    await page.goto(`${suite.ui}/projects/${project.id}?tab=end-users`);
    await page.getByRole('cell', { name: 'cy', exact: true }).waitFor();
    await tabTo(page, 'Consents of cy');
    await page.keyboard.press('Enter');
    const ofCy = page.getByRole('dialog', { name: 'Consents of cy' });
    await ofCy.getByRole('table', { name: 'Consents of cy' }).getByText('mobile-app').waitFor();
    await tabTo(page, 'Revoke consent to mobile-app');
    await shot(page, '35-end-user-consents-keyboard');
    await page.keyboard.press('Escape');
    await ofCy.waitFor({ state: 'hidden' });
    expect(await consentsOf(cy.id)).toHaveLength(1);

    // Axe on the confirmation over the consents; every one of these screens and dialogs on a 390 px phone.
    const clientsTab = `/projects/${project.id}?tab=oidc-clients`;
    const openConsents = (p: Page) => p.getByRole('button', { name: 'Consents to mobile-app' }).click();
    const openConfirm = async (p: Page) => {
      await openConsents(p);
      await p.getByRole('button', { name: `Revoke consent of cy in ${ENV}` }).click();
      await p.getByRole('dialog', { name: 'Revoke consent' }).waitFor();
    };
    expect(await suite.seriousViolationsIn(context, [clientsTab], openConfirm)).toEqual([]);
    expect(
      await sidewaysScroll(
        suite.browser,
        suite.ui,
        page,
        [
          ['oidc-clients', clientsTab],
          ['oidc-client-consents', clientsTab, openConsents],
          ['oidc-client-consent-revoke', clientsTab, openConfirm],
          ['end-user-consents', `/projects/${project.id}?tab=end-users`, (p) => p.getByRole('button', { name: 'Consents of cy' }).click()],
        ],
        390,
      ),
    ).toEqual([
      ['oidc-clients', 0],
      ['oidc-client-consents', 0],
      ['oidc-client-consent-revoke', 0],
      ['end-user-consents', 0],
    ]);
    expect(await consentsOf(cy.id)).toHaveLength(1);
    await context.close();

    // A project viewer sees who consented, with no revoke button.
    await projectViewer(admin, project.id, 'consent-viewer', 'consent-viewer-password');
    const viewer = await suite.signedIn('consent-viewer', 'consent-viewer-password');
    await viewer.page.goto(`${suite.ui}/projects/${project.id}?tab=oidc-clients`);
    await viewer.page.getByRole('button', { name: 'Consents to mobile-app' }).click();
    const seen = viewer.page.getByRole('table', { name: 'Consents to mobile-app' });
    await seen.getByRole('row').filter({ hasText: 'cy' }).waitFor();
    expect(await viewer.page.getByRole('button', { name: /^Revoke consent/ }).count()).toBe(0);
    await viewer.context.close();
  });
});
