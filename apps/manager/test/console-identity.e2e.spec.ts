import { eventually } from '@idm/test-kit';
import type { Page } from 'playwright-core';
import { pick, shot, sidewaysScroll, tabTo } from './support/console-browser';
import { consoleSuite, fieldGroup } from './support/console-suite';

/**
 * The console's screens for what a credential may do and who logs in, in a real Chromium against
 * a real Manager: authentication analytics (charts, rankings, filters, live tail), credential rules and token settings (an OIDC client) from forms generated from
 * the Manager's OpenAPI document, identity sources with a write-only secret, and end users
 * searched and paged by the server. Each: the happy path through the API, a refusal shown on the
 * field it names with nothing written, keyboard reachability (the secret picker and the analytics
 * filters' clear buttons too), Escape, axe-core and a 390 px phone.
 */
const ENV = 'console-identity-e2e';
// A browser session through several screens on a loaded machine.
jest.setTimeout(420_000);

describe('the console: credential rules, token settings, identity sources and end users in Chromium', () => {
  // The Manager indexes the Gateways' auth records itself (no indexer app), for the analytics screen.
  const suite = consoleSuite({ environment: ENV, gateways: [{}], managerEnv: { AUTH_RECORDS_INDEXER: 'on' } });

  it("sets a credential's rules and makes it an OIDC client, the Manager's findings shown on their fields", async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'ruled' });
    const credential = await admin.credentials.create(project.id, { username: 'mobile-app' });
    const { context, page } = await suite.signedIn();
    const dialog = page.getByRole('dialog');

    await page.goto(`${suite.ui}/projects/${project.id}?tab=credentials`);
    await page.getByRole('button', { name: 'Rules of mobile-app' }).click();
    await dialog.locator('#rules_time_mode').selectOption('allow');
    await dialog.locator('#rules_time_timeZone').fill('Mars/Olympus'); // no browser check knows the zone list: the Manager's finding
    await dialog.locator('#rules_time_windows .btn-add').first().click();
    await dialog.locator('#rules_rateLimit_limits .btn-add').first().click();
    await dialog.locator('#rules_rateLimit_limits_0_limit').fill('5');
    await dialog.locator('#rules_rateLimit_limits_0_windowSeconds').fill('60');
    await dialog.getByRole('button', { name: 'Save rules' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Not done' }).waitFor();
    await fieldGroup(page, 'rules_time_timeZone')
      .getByText(/IANA time zone/)
      .waitFor();
    await shot(page, '20-credential-rules-field-error');
    expect((await admin.call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}`)).access).toEqual({});
    await dialog.locator('#rules_time_timeZone').fill('Europe/Istanbul');
    await dialog.getByRole('button', { name: 'Save rules' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const access = (await admin.call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}`)).access;
    expect(access.time).toEqual({ mode: 'allow', timeZone: 'Europe/Istanbul', windows: [{ days: [], dates: [] }] });
    expect(access.rateLimit.limits).toEqual([{ limit: 5, windowSeconds: 60, algorithm: 'fixed' }]);
    expect(access.acl).toBeUndefined(); // an untouched section is not sent

    // Token settings: a public OIDC client; a public client with a client secret is refused on that field.
    await page.getByRole('button', { name: 'Token settings of mobile-app' }).click();
    await dialog.getByText('cannot get tokens yet').waitFor();
    await dialog.locator('#token-settings_grants .btn-add').first().click();
    await dialog.locator('#token-settings_grants_0').selectOption('authorization_code');
    await dialog.locator('#token-settings_oidc__anyof_select').selectOption({ label: 'Set' });
    await dialog.locator('#token-settings_oidc_clientType').selectOption('public');
    // At least one redirect URI: the form opens with its first field.
    await dialog.locator('#token-settings_oidc_redirectUris_0').fill('https://app.example.com/callback');
    await dialog.getByRole('button', { name: 'Save token settings' }).click();
    await fieldGroup(page, 'token-settings_oidc_tokenEndpointAuthMethod')
      .getByText(/public client authenticates with "none"/)
      .waitFor();
    await shot(page, '21-token-settings-field-error');
    expect(await admin.call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}/token-settings`)).toBeNull();
    await dialog.locator('#token-settings_oidc_tokenEndpointAuthMethod').selectOption('none');
    await dialog.getByRole('button', { name: 'Save token settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const settings = await admin.call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}/token-settings`);
    expect([settings.grants, settings.oidc.clientType, settings.oidc.redirectUris]).toEqual([['authorization_code'], 'public', ['https://app.example.com/callback']]);

    // Stopping token issuance asks first.
    await page.getByRole('button', { name: 'Token settings of mobile-app' }).click();
    await dialog.getByRole('button', { name: 'Stop issuing tokens' }).click();
    await page.getByRole('dialog', { name: 'Stop issuing tokens' }).getByRole('button', { name: 'Stop' }).click();
    await eventually(
      () => admin.call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}/token-settings`),
      (s) => s === null,
      { what: 'token settings removed' },
    );

    expect(await suite.seriousViolationsIn(context, [`/projects/${project.id}?tab=credentials`])).toEqual([]);
    await context.close();
  });

  it("trusts key managers for a client's JWT bearer grant, picked by name; one gone meanwhile is refused on the picker", async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'bearer' });
    const credential = await admin.credentials.create(project.id, { username: 'partner-backend' });
    const settingsOf = () => admin.call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}/token-settings`);
    const external = (name: string) =>
      admin.call('POST', '/api/v1/key-managers', { name, issuer: `https://${name}.example/`, jwksUri: `https://${name}.example/jwks`, algorithms: ['ES256'] });
    await external('partner-e2e');
    const retired = await external('retired-e2e');
    await admin.call('POST', '/api/v1/key-managers', { name: 'own-tokens-e2e', type: 'builtin' });
    const { context, page } = await suite.signedIn();
    const dialog = page.getByRole('dialog');

    await page.goto(`${suite.ui}/projects/${project.id}?tab=credentials`);
    await page.getByRole('button', { name: 'Token settings of partner-backend' }).click();
    await dialog.getByText('cannot get tokens yet').waitFor();
    await dialog.getByRole('combobox', { name: 'Key managers' }).click({ force: true });
    await page.getByRole('option', { name: 'partner-e2e (System)', exact: true }).waitFor();
    // Our own token service signs no assertions: not offered.
    expect(await page.getByRole('option', { name: 'own-tokens-e2e (System)' }).count()).toBe(0);
    await pick(page, dialog, 'Key managers', 'partner-e2e (System)');
    await pick(page, dialog, 'Key managers', 'retired-e2e (System)');
    await page.keyboard.press('Escape');
    await dialog.locator('#token-settings_jwtBearer_subject').selectOption('client');
    // Deleted while the operator was choosing: the Manager's finding shows on the picker, nothing is stored.
    await admin.call('DELETE', `/api/v1/key-managers/${retired.id}`);
    await dialog.getByRole('button', { name: 'Save token settings' }).click();
    // On the picker itself (its own error line), not only in the form's summary.
    await dialog.locator('#token-settings_jwtBearer_keyManagers-error').getByText('no key manager retired-e2e').waitFor();
    await shot(page, '22-token-settings-jwt-bearer-field-error');
    expect(await settingsOf()).toBeNull();
    // The last pick taken out again (Backspace in the picker), the settings save with the issuer by name.
    await dialog.getByRole('combobox', { name: 'Key managers' }).click({ force: true });
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Escape');
    await dialog.getByRole('button', { name: 'Save token settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await settingsOf()).jwtBearer).toEqual({ keyManagers: ['partner-e2e'], subject: 'client', maxLifetimeSeconds: 300 });
    await context.close();
  });

  it('connects an identity source with a write-only secret, edits, disables and deletes it', async () => {
    const admin = suite.cluster.admin;
    const { context, page } = await suite.signedIn();
    const dialog = page.getByRole('dialog');
    const secret = 'the-ldap-service-password';

    // Keyboard only: from the Projects screen to Identity sources and its create form.
    await tabTo(page, 'Identity sources');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Identity sources' }).waitFor();
    await page.getByText('No identity sources yet').waitFor();
    await tabTo(page, 'New identity source');
    await page.keyboard.press('Enter');
    await dialog.locator('#source-ldap_name').waitFor();

    await dialog.locator('#source-ldap_name').fill('corp-ldap');
    await dialog.getByLabel('Service account password').fill(secret);
    await dialog.locator('#source-ldap_config_url').fill('ldap://ldap.example.org/ou=people'); // a path after the authority: refused
    await dialog.locator('#source-ldap_config_bind_dnTemplate').fill('uid={username},ou=people,dc=example,dc=org');
    // The directory settings with defaults render from the schema too (left empty, the Manager's default applies): the group searches' page size.
    await dialog.locator('#source-ldap_config_pageSize').waitFor();
    await dialog.locator('#source-ldap_config_pageSize').fill('200');
    // Referrals off unless switched on; the service account's pool size.
    expect(await dialog.locator('#source-ldap_config_referrals_follow').isChecked()).toBe(false);
    await dialog.locator('#source-ldap_config_pool_size').fill('2');
    await dialog.getByRole('button', { name: 'Create identity source' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Not done' }).waitFor();
    await fieldGroup(page, 'source-ldap_config_url')
      .getByText(/ldaps?:\/\/host/)
      .waitFor();
    await shot(page, '22-identity-source-field-error');
    expect(await admin.call('GET', '/api/v1/identity-sources')).toEqual([]);
    await dialog.locator('#source-ldap_config_url').fill('ldaps://ldap.example.org:636');
    await dialog.getByRole('button', { name: 'Create identity source' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const row = page.getByRole('row').filter({ hasText: 'corp-ldap' });
    await row.getByRole('cell', { name: 'set', exact: true }).waitFor();
    await shot(page, '23-identity-sources');
    const [created] = await admin.call('GET', '/api/v1/identity-sources');
    expect([created.type, created.projectId, created.hasSecret, created.config.url, created.config.pageSize, created.config.pool.size, created.config.referrals.follow]).toEqual([
      'ldap',
      null,
      true,
      'ldaps://ldap.example.org:636',
      200,
      2,
      false,
    ]);
    expect(JSON.stringify(created)).not.toContain(secret);

    // Edit: the secret field starts empty (kept unless replaced); disabling is saved.
    await page.getByRole('button', { name: 'Edit identity source corp-ldap' }).click();
    expect(await dialog.getByLabel('Service account password').inputValue()).toBe('');
    expect(await page.content()).not.toContain(secret);
    await dialog.locator('#source-ldap_enabled').uncheck();
    await dialog.getByRole('button', { name: 'Save identity source' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await row.getByText('disabled', { exact: true }).waitFor();
    const [edited] = await admin.call('GET', '/api/v1/identity-sources');
    expect([edited.enabled, edited.hasSecret]).toEqual([false, true]);

    expect(await suite.seriousViolationsIn(context, ['/identity-sources'])).toEqual([]);
    await page.getByRole('button', { name: 'Delete identity source corp-ldap' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No identity sources yet').waitFor();
    expect(await admin.call('GET', '/api/v1/identity-sources')).toEqual([]);

    // An external OpenID Provider: its own generated form; a plain-http issuer off loopback is refused on its field.
    const idpSecret = 'the-idp-client-secret';
    await page.getByRole('button', { name: 'New identity source' }).click();
    await dialog.getByText('External OpenID Provider', { exact: true }).click();
    await dialog.locator('#source-oidc_name').fill('corp-idp');
    await dialog.getByLabel(/^Client secret \(leave empty/).fill(idpSecret);
    await dialog.locator('#source-oidc_config_issuer').fill('http://idp.example.org/realms/corp');
    await dialog.locator('#source-oidc_config_clientId').fill('gateway-login');
    await dialog.getByRole('button', { name: 'Create identity source' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Not done' }).waitFor();
    await fieldGroup(page, 'source-oidc_config_issuer').getByText(/https/).waitFor();
    expect(await admin.call('GET', '/api/v1/identity-sources')).toEqual([]);
    await dialog.locator('#source-oidc_config_issuer').fill('https://idp.example.org/realms/corp');
    await dialog.getByRole('button', { name: 'Create identity source' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('row').filter({ hasText: 'corp-idp' }).getByText('External OpenID Provider').waitFor();
    const [idp] = await admin.call('GET', '/api/v1/identity-sources');
    expect([idp.type, idp.hasSecret, idp.config.issuer, idp.config.clientId, idp.config.scopes]).toEqual([
      'oidc',
      true,
      'https://idp.example.org/realms/corp',
      'gateway-login',
      ['openid', 'profile', 'email'],
    ]);
    expect(JSON.stringify(idp)).not.toContain(idpSecret);
    await admin.call('DELETE', `/api/v1/identity-sources/${idp.id}`);

    // A project's external IdP takes its client secret from a project shared secret, picked by name; typed and picked at once is refused on the picker.
    const owners = await admin.projects.create({ name: 'idp-owners' });
    const shared = await admin.call('POST', `/api/v1/projects/${owners.id}/secrets`, {
      name: 'idp-client',
      kind: 'shared-secret',
      material: Buffer.from(idpSecret).toString('base64url'),
    });
    // Loaded again: the Scope list is the projects the screen read when it opened.
    await page.goto(`${suite.ui}/identity-sources`);
    await page.getByRole('button', { name: 'New identity source' }).click();
    await dialog.getByText('External OpenID Provider', { exact: true }).click();
    await pick(page, dialog, 'Scope', 'Project idp-owners');
    await dialog.locator('#source-oidc_name').fill('owners-idp');
    await dialog.locator('#source-oidc_config_issuer').fill('https://idp.example.org/realms/owners');
    await dialog.locator('#source-oidc_config_clientId').fill('gateway-login');
    expect(await dialog.locator('#source-oidc_config_clientSecretId').count()).toBe(0);
    // The secret picked by keyboard: Tab to it (focus outlined), arrow to the secret's name, Enter.
    await tabTo(page, 'Client secret from a project secret');
    const option = page.getByRole('option', { name: 'idp-client', exact: true });
    await eventually(
      async () => (await option.getAttribute('data-combobox-selected', { timeout: 1_000 }).catch(() => null)) === 'true' || (await page.keyboard.press('ArrowDown'), false),
      Boolean,
      { what: 'idp-client selected in the open list', intervalMs: 300 },
    );
    await page.keyboard.press('Enter');
    await eventually(
      () => dialog.getByRole('combobox', { name: 'Client secret from a project secret' }).inputValue(),
      (v) => v === 'idp-client',
      { what: 'idp-client picked by keyboard' },
    );
    await dialog.getByLabel(/^Client secret \(leave empty/).fill(idpSecret);
    await dialog.getByRole('button', { name: 'Create identity source' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Not done' }).waitFor();
    // On the picker itself (the form's summary lists it too).
    await dialog.getByText('give either secret or config.clientSecretId, not both', { exact: true }).waitFor();
    expect(await admin.call('GET', '/api/v1/identity-sources')).toEqual([]);
    await dialog.getByLabel(/^Client secret \(leave empty/).fill('');
    await dialog.getByRole('button', { name: 'Create identity source' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const [owned] = await admin.call('GET', '/api/v1/identity-sources');
    expect([owned.projectId, owned.hasSecret, owned.config.clientSecretId]).toEqual([owners.id, false, shared.id]);
    // Editing shows the pick by name; clearing it makes the source a public client.
    await page.getByRole('button', { name: 'Edit identity source owners-idp' }).click();
    await eventually(
      () => dialog.getByRole('combobox', { name: 'Client secret from a project secret' }).inputValue(),
      (v) => v === 'idp-client',
      { what: 'the stored client secret shown by its secret name' },
    );
    await shot(page, '27-identity-source-oidc-project-secret');
    // Cleared by keyboard too: its clear button is the next Tab stop after the picker (the form is long), named and outlined.
    await dialog.getByRole('combobox', { name: 'Client secret from a project secret' }).focus();
    await tabTo(page, 'Clear Client secret from a project secret');
    await page.keyboard.press('Enter');
    await eventually(
      () => dialog.getByRole('combobox', { name: 'Client secret from a project secret' }).inputValue(),
      (v) => v === '',
      { what: 'the picked secret cleared by keyboard' },
    );
    await dialog.getByRole('button', { name: 'Save identity source' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const [cleared] = await admin.call('GET', '/api/v1/identity-sources');
    expect([cleared.hasSecret, cleared.config.clientSecretId]).toEqual([false, undefined]);

    // Escape leaves the form with nothing saved.
    await page.getByRole('button', { name: 'Edit identity source owners-idp' }).focus();
    await page.keyboard.press('Enter');
    await dialog.locator('#source-oidc_name').fill('renamed-then-escaped');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect((await admin.call('GET', '/api/v1/identity-sources')).map((x: { name: string }) => x.name)).toEqual(['owners-idp']);

    // The project-scoped form with its secret picker: labelled (axe) and whole on a 390 px phone.
    const openProjectIdpForm = async (p: Page) => {
      await p.getByRole('button', { name: 'New identity source' }).click();
      await p.getByRole('dialog').getByText('External OpenID Provider', { exact: true }).click();
      await pick(p, p.getByRole('dialog'), 'Scope', 'Project idp-owners');
      await p.getByRole('dialog').getByRole('combobox', { name: 'Client secret from a project secret' }).waitFor();
    };
    expect(await suite.seriousViolationsIn(context, ['/identity-sources'], openProjectIdpForm)).toEqual([]);
    // Every source type's label whole on the phone (a row of five ran off both sides).
    const cutTypes: string[] = [];
    const openOnPhone = async (p: Page) => {
      await openProjectIdpForm(p);
      for (const type of ['LDAP / Active Directory', 'SQL database', 'REST endpoint', 'External OpenID Provider', 'SAML 2.0 IdP']) {
        const box = await p.getByRole('dialog').getByText(type, { exact: true }).boundingBox();
        if (!box || box.x < 0 || box.x + box.width > 390) cutTypes.push(type);
      }
    };
    expect(await sidewaysScroll(suite.browser, suite.ui, page, [['identity-source-form', '/identity-sources', openOnPhone]], 390)).toEqual([['identity-source-form', 0]]);
    expect(cutTypes).toEqual([]);
    await admin.call('DELETE', `/api/v1/identity-sources/${cleared.id}`);
    await context.close();
  });

  it("manages a project's end users: create, search, lock, delete; and every new screen fits a narrow window", async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'people' });
    const { context, page } = await suite.signedIn();
    const dialog = page.getByRole('dialog');

    await page.goto(`${suite.ui}/projects/${project.id}?tab=end-users`);
    await page.getByText('No end users yet').waitFor();
    await page.getByRole('button', { name: 'New end user' }).click();
    await dialog.getByRole('textbox', { name: 'Username' }).fill('ada');
    await dialog.getByRole('textbox', { name: 'Email' }).fill('not-an-email');
    await dialog.getByRole('button', { name: 'Create end user' }).click();
    await eventually(
      () => dialog.getByRole('textbox', { name: 'Email' }).getAttribute('aria-invalid'),
      (v) => v === 'true',
      { what: 'the email field marked invalid' },
    );
    await shot(page, '24-end-user-field-error');
    expect(await admin.call('GET', `/api/v1/projects/${project.id}/users`)).toEqual([]);
    await dialog.getByRole('textbox', { name: 'Email' }).fill('ada@example.com');
    await dialog.getByRole('textbox', { name: 'Password' }).fill('ada-password-long');
    await dialog.getByRole('button', { name: 'Create end user' }).click();
    await page.getByRole('cell', { name: 'ada', exact: true }).waitFor();
    await admin.call('POST', `/api/v1/projects/${project.id}/users`, { username: 'grace', email: 'grace@example.com' });

    await page.getByRole('textbox', { name: 'Search' }).fill('grac');
    await page.getByRole('cell', { name: 'grace', exact: true }).waitFor();
    await eventually(
      () => page.getByRole('cell', { name: 'ada', exact: true }).count(),
      (n) => n === 0,
      { what: 'the search answered by the server' },
    );
    await page.getByRole('textbox', { name: 'Search' }).fill('');
    // By keyboard: a pointer click lands on the switch's track, drawn over the hidden input.
    await page.getByRole('switch', { name: 'ada locked' }).press('Space');
    await eventually(
      async () => ((await admin.call('GET', `/api/v1/projects/${project.id}/users?search=ada`)) as { locked: boolean }[])[0].locked,
      (locked) => locked,
      { what: 'ada locked' },
    );
    await page.getByRole('button', { name: 'Delete end user grace' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await eventually(
      () => page.getByRole('cell', { name: 'grace', exact: true }).count(),
      (n) => n === 0,
      { what: 'grace deleted' },
    );
    await shot(page, '25-end-users');
    expect((await admin.call('GET', `/api/v1/projects/${project.id}/users`)).map((u: { username: string }) => u.username)).toEqual(['ada']);

    expect(await suite.seriousViolationsIn(context, [`/projects/${project.id}?tab=end-users`])).toEqual([]);
    expect(
      await sidewaysScroll(
        suite.browser,
        suite.ui,
        page,
        [
          ['end-users', `/projects/${project.id}?tab=end-users`],
          ['identity-sources', '/identity-sources'],
          ['credentials-rules', `/projects/${project.id}?tab=credentials`],
        ],
        390,
      ),
    ).toEqual([
      ['end-users', 0],
      ['identity-sources', 0],
      ['credentials-rules', 0],
    ]);
    await context.close();
  });

  it("charts the Gateway's authentications, filters them by proxy, credential, policy, client and outcome, and tails them live", async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'watched' });
    await admin.proxies.create(project.id, {
      name: 'counted',
      basePath: '/counted',
      upstreamUrl: suite.cluster.echoUrl,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    const credential = await admin.credentials.create(project.id, { username: 'counted-app' });
    const call = (key: string) => fetch(`${suite.cluster.gateways[0].baseUrl}/counted/x`, { headers: { 'x-api-key': key } }).then((r) => r.status);
    await eventually(
      () => call(credential.apiKey!.key),
      (s) => s === 200,
      { what: 'the proxy deployed' },
    );
    expect(await call('idm_not-a-key')).toBe(401);
    // A second proxy with successes only: what the proxy and credential filters tell apart.
    await admin.proxies.create(project.id, {
      name: 'spare',
      basePath: '/spare',
      upstreamUrl: suite.cluster.echoUrl,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    const spare = await admin.credentials.create(project.id, { username: 'spare-app' });
    await eventually(
      () => fetch(`${suite.cluster.gateways[0].baseUrl}/spare/x`, { headers: { 'x-api-key': spare.apiKey!.key } }).then((r) => r.status),
      (s) => s === 200,
      { what: 'the spare proxy deployed' },
    );

    const { context, page } = await suite.signedIn();
    await page.getByRole('link', { name: 'Analytics' }).click();
    await page.getByRole('heading', { name: 'Analytics' }).waitFor();
    // The records reach the Manager's index within seconds: the screen is reloaded until they show.
    await eventually(
      async () => {
        await page.reload();
        await page.getByRole('heading', { name: 'Analytics' }).waitFor();
        await page.getByText(/authentications in this window|^\d+ authentications?$/).waitFor();
        return page.getByRole('table', { name: 'Refusal reasons' }).getByRole('cell', { name: 'invalid_api_key' }).count();
      },
      (n) => n === 1,
      { what: 'the refusal counted on the screen', timeoutMs: 60_000 },
    );
    await page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'counted' }).waitFor();
    await eventually(
      async () => {
        await page.reload();
        return page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'spare', exact: true }).count();
      },
      (n) => n === 1,
      { what: "the spare proxy's authentications on the screen", timeoutMs: 60_000 },
    );
    await page
      .getByRole('figure', { name: /Authentications per hour by outcome/ })
      .locator('.recharts-bar-rectangle')
      .first()
      .waitFor();
    await shot(page, '26-analytics');

    // Narrowed by a proxy picked by name: the total is that proxy's count, the other proxy and its refusals gone.
    const total = async () =>
      Number(
        /^(\d+) authentications?$/.exec(
          (await page
            .locator('[aria-label="Totals"]')
            .getByText(/authentications?$/)
            .textContent()) ?? '',
        )?.[1],
      );
    const spareCount = Number(await page.getByRole('table', { name: 'Proxies' }).getByRole('row').filter({ hasText: 'spare' }).getByRole('cell').last().textContent());
    expect(spareCount).toBeGreaterThan(0);
    expect(await total()).toBeGreaterThan(spareCount);
    await pick(page, page, 'Proxy', 'spare');
    await eventually(total, (n) => n === spareCount, { what: 'the total narrowed to the spare proxy' });
    expect(await page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'counted', exact: true }).count()).toBe(0);
    expect(await page.getByRole('table', { name: 'Refusal reasons' }).count()).toBe(0); // the spare proxy refused nothing: the table says None
    await shot(page, '28-analytics-proxy-filter');
    // The filters' clear buttons by keyboard: reached with Tab (outlined), pressed with Enter.
    await tabTo(page, 'Clear the proxy filter');
    await page.keyboard.press('Enter');
    await eventually(total, (n) => n > spareCount, { what: 'the proxy filter cleared by keyboard' });
    expect(await page.getByRole('combobox', { name: 'Proxy' }).inputValue()).toBe('');
    // By credential: counted-app's successes only, none of the refusals of keys that name no credential.
    await pick(page, page, 'Credential', 'counted-app');
    await eventually(
      () => page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'spare', exact: true }).count(),
      (n) => n === 0,
      { what: 'the credential filter applied' },
    );
    await page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'counted', exact: true }).waitFor();
    await tabTo(page, 'Clear the credential filter');
    await page.keyboard.press('Enter');
    await page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'spare', exact: true }).waitFor();
    expect(await page.getByRole('combobox', { name: 'Credential' }).inputValue()).toBe('');
    // The outcome filter's clear button too (every clearable field's is named and reachable).
    await pick(page, page, 'Outcome', 'denied');
    await eventually(
      () => page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'spare', exact: true }).count(),
      (n) => n === 0,
      { what: 'only refusals counted (the spare proxy refused nothing)' },
    );
    await tabTo(page, 'Clear the outcome filter');
    await page.keyboard.press('Enter');
    await page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'spare', exact: true }).waitFor();
    expect(await page.getByRole('combobox', { name: 'Outcome' }).inputValue()).toBe('');
    // A typed policy and client id reach the query too: nothing here authenticated by Basic or as an OAuth client.
    await page.getByRole('combobox', { name: 'Policy' }).fill('basic-auth');
    await page.getByText('No authentications in this window').waitFor();
    await page.getByRole('combobox', { name: 'Policy' }).fill('api-key');
    await page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'spare', exact: true }).waitFor();
    await page.getByRole('textbox', { name: 'Client ID' }).fill('no-such-client');
    await page.getByText('No authentications in this window').waitFor();
    await page.getByRole('textbox', { name: 'Client ID' }).fill('');
    await page.getByRole('combobox', { name: 'Policy' }).fill('');
    await page.keyboard.press('Escape'); // the policy suggestions closed
    await page.getByRole('table', { name: 'Proxies' }).getByRole('cell', { name: 'spare', exact: true }).waitFor();

    await page.getByRole('combobox', { name: 'Outcome' }).click({ force: true });
    await page.getByRole('option', { name: 'denied', exact: true }).click();
    await page.getByText(/^denied: \d+$/).waitFor();
    await eventually(
      () => page.getByText(/^success: \d+$/).count(),
      (n) => n === 0,
      { what: 'the outcome filter applied by the server' },
    );

    await page.getByLabel('Live tail').check();
    await page.getByText('Waiting for authentications…').waitFor();
    await eventually(
      async () => {
        await call('idm_still-not-a-key');
        return page.getByRole('table', { name: 'Live authentications' }).getByRole('cell', { name: 'invalid_api_key' }).count();
      },
      (n) => n > 0,
      { what: 'a refusal in the live tail' },
    );
    expect(await page.getByRole('table', { name: 'Live authentications' }).getByRole('cell', { name: 'success' }).count()).toBe(0); // filtered
    await shot(page, '27-analytics-live');

    expect(await suite.seriousViolationsIn(context, ['/analytics'])).toEqual([]);
    expect(await sidewaysScroll(suite.browser, suite.ui, page, [['analytics', '/analytics']], 390)).toEqual([['analytics', 0]]);
    await context.close();
  });
});
