import * as jose from 'jose';
import { TestPki, eventually } from '@idm/test-kit';
import { pick as pickOption, shot, sidewaysScroll, tabTo } from './support/console-browser';
import { bindProjectRole, consoleSuite, projectViewer } from './support/console-suite';

/**
 * The console's key manager screens (#14) in a real Chromium against a real Manager and Gateway:
 * an operator lists, creates (the Manager's findings shown on the fields they name), edits and
 * deletes key managers, picks the ones a proxy accepts in the proxy editor (jwt-auth's
 * `keyManagers`, by name), and a token of that issuer then passes the Gateway. By keyboard, on a
 * narrow window, with axe-core finding nothing serious. A project key manager takes its client
 * secret and HS key from the project's shared secrets (picked by name), TLS PEMs and the timing
 * settings from the form. Screenshots land in .test-output/console/.
 */
const ENV = 'console-km';
const ISSUER = 'https://partner.example/realms/shop';
const SHARED_SECRET = 'partner-shared-secret-of-at-least-32-characters';
jest.setTimeout(420_000);

describe('key managers in the console (Chromium)', () => {
  const suite = consoleSuite({ environment: ENV, gateways: [{}] });

  it('creates, edits and deletes key managers with field-level findings, and a proxy accepts the chosen one on the Gateway', async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'partner-shop' });
    const { context, page } = await suite.signedIn();
    const dialog = page.getByRole('dialog');
    // By its label's text, with or without the required marker.
    const field = (label: string) => dialog.getByLabel(new RegExp(`^${label.replace(/[()]/g, '\\$&')}\\s*\\*?$`));

    await page.getByRole('link', { name: 'Key managers' }).click();
    await page.getByRole('heading', { name: 'Key managers' }).waitFor();
    await page.getByText('No key managers yet').waitFor();

    // The Manager's findings land on the fields they name; nothing is created.
    await page.getByRole('button', { name: 'New key manager' }).click();
    await field('Name').fill('partner');
    await field('Issuer').fill('not an issuer url');
    await field('Discovery URL').fill('http://169.254.169.254/.well-known/openid-configuration');
    await dialog.getByRole('button', { name: 'Create key manager' }).click();
    await dialog.getByRole('alert').waitFor();
    await dialog
      .getByText(/Invalid URL|must be/i)
      .first()
      .waitFor(); // on the Issuer field
    expect(await field('Issuer').getAttribute('aria-invalid')).toBe('true');
    await field('Issuer').fill(ISSUER);
    await dialog.getByRole('button', { name: 'Create key manager' }).click();
    await eventually(
      () => field('Discovery URL').getAttribute('aria-invalid'),
      (v) => v === 'true',
      { what: 'the metadata address refused on the Discovery URL field (upstream_forbidden)' },
    );
    await shot(page, '20-key-manager-field-errors');
    expect(await admin.call('GET', '/api/v1/key-managers')).toEqual([]);

    // HS256 only, with its shared secret and no endpoints: explicit source, JWKS left empty.
    await dialog.getByText('Explicit endpoints').click();
    await dialog.getByRole('combobox', { name: 'Allowed algorithms' }).click({ force: true });
    await page.getByRole('option', { name: 'HS256', exact: true }).click();
    await page.getByRole('option', { name: 'RS256', exact: true }).click();
    await dialog.getByRole('heading', { name: 'New key manager' }).click();
    await dialog.getByRole('button', { name: 'Create key manager' }).click();
    await dialog.getByText('HS256 needs a sharedSecret').waitFor(); // on Allowed algorithms
    await dialog.getByLabel('Shared secret for HS algorithms').fill(SHARED_SECRET);
    await field('Audiences').fill('orders-api');
    await field('Audiences').press('Enter');
    await field('Required claims').fill('tenant_id');
    await field('Required claims').press('Enter');
    await field('Tenant claim').fill('tenant_id');
    await dialog.getByRole('textbox', { name: 'Claims sent upstream as headers' }).fill('email: x-user-email');
    await dialog.getByText('All but these roles (DENY)').click();
    await field('Roles').fill('contractor');
    await field('Roles').press('Enter');
    await dialog.getByRole('button', { name: 'Create key manager' }).click();
    await page.getByRole('cell', { name: 'partner', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'all but contractor' }).waitFor();
    await shot(page, '21-key-managers');
    const [created] = await admin.call('GET', '/api/v1/key-managers');
    expect(created).toMatchObject({
      name: 'partner',
      projectId: null,
      issuer: ISSUER,
      discoveryUrl: null,
      jwksUri: null,
      hasSharedSecret: true,
      algorithms: ['HS256'],
      audiences: ['orders-api'],
      requiredClaims: ['tenant_id'],
      claimMappings: { userId: 'sub', tenant: 'tenant_id', headers: { email: 'x-user-email' } },
      roleList: { type: 'DENY', roles: ['contractor'] },
      enabled: true,
    });
    expect(JSON.stringify(created)).not.toContain(SHARED_SECRET);

    // Edit: the secret field stays empty (the stored one is kept), the skew and role list change.
    await page.getByRole('button', { name: 'Edit key manager partner' }).click();
    expect(await dialog.getByLabel('Shared secret for HS algorithms').inputValue()).toBe('');
    await field('Clock skew (seconds)').fill('500');
    await dialog.getByRole('button', { name: 'Save key manager' }).click();
    await eventually(
      () => field('Clock skew (seconds)').getAttribute('aria-invalid'),
      (v) => v === 'true',
      { what: 'a skew over 300 s refused on its field' },
    );
    await field('Clock skew (seconds)').fill('60');
    await dialog.getByText('Only these roles (ALLOW)').click();
    await field('Roles').focus();
    await field('Roles').press('Backspace'); // the DENY list's contractor goes
    await field('Roles').fill('system-admin');
    await field('Roles').press('Enter');
    await dialog.getByRole('button', { name: 'Save key manager' }).click();
    await page.getByRole('cell', { name: 'only system-admin' }).waitFor();
    const edited = await admin.call('GET', `/api/v1/key-managers/${created.id}`);
    expect(edited).toMatchObject({ clockSkewSeconds: 60, roleList: { type: 'ALLOW', roles: ['system-admin'] }, hasSharedSecret: true });

    // The proxy editor picks the key managers a proxy accepts by name (jwt-auth keyManagers).
    const proxy = await admin.proxies.create(project.id, {
      name: 'orders',
      basePath: '/partner-orders',
      upstreamUrl: suite.cluster.echoUrl,
      environments: [ENV],
      policies: [{ type: 'jwt-auth', config: {} }],
    });
    await page.goto(`${suite.ui}/projects/${project.id}/proxies/${proxy.id}`);
    await page.getByRole('heading', { name: 'API proxy orders' }).waitFor();
    await page.getByRole('combobox', { name: 'Key managers' }).click({ force: true });
    await page.getByRole('option', { name: 'partner (System)' }).click();
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await eventually(
      () => admin.call('GET', `/api/v1/projects/${project.id}/proxies/${proxy.id}`),
      (p: { policies: { config: { keyManagers?: string[] } }[] }) => p.policies[0].config.keyManagers?.[0] === created.id,
      { what: 'the proxy saved with the key manager' },
    );
    await shot(page, '22-proxy-key-managers');
    const now = Math.floor(Date.now() / 1000);
    const token = await new jose.SignJWT({ tenant_id: 'acme', email: 'ann@acme.example', scope: 'read' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setSubject('ann')
      .setAudience('orders-api')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode(SHARED_SECRET));
    const gateway = suite.cluster.gateways[0].baseUrl;
    const echoed = await eventually(
      async () => {
        const res = await fetch(`${gateway}/partner-orders/items`, { headers: { authorization: `Bearer ${token}` } });
        return { status: res.status, body: (await res.json()) as { headers?: Record<string, string> } };
      },
      (r) => r.status === 200,
      { what: "the partner's token accepted on the Gateway", timeoutMs: 60_000 },
    );
    expect(echoed.body.headers).toMatchObject({ 'x-authenticated-issuer': 'partner', 'x-authenticated-tenant': 'acme', 'x-user-email': 'ann@acme.example' });

    // Disabled in the console: the Gateway refuses its tokens.
    await page.goto(`${suite.ui}/key-managers`);
    await page.getByRole('button', { name: 'Edit key manager partner' }).click();
    await dialog.getByRole('switch', { name: 'Enabled' }).uncheck({ force: true });
    await dialog.getByRole('button', { name: 'Save key manager' }).click();
    await page.getByText('disabled', { exact: true }).waitFor();
    await eventually(
      () => fetch(`${gateway}/partner-orders/items`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status),
      (s) => s === 401,
      { what: 'the disabled key manager refused on the Gateway', timeoutMs: 60_000 },
    );

    // Delete after a confirmation.
    await page.getByRole('button', { name: 'Delete key manager partner' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No key managers yet').waitFor();
    expect(await admin.call('GET', '/api/v1/key-managers')).toEqual([]);

    // Keyboard only: from the page's start to the section, the create form, and a project-scoped key manager.
    await page.goto(`${suite.ui}/projects`);
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await tabTo(page, 'Key managers');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Key managers' }).waitFor();
    await tabTo(page, 'New key manager');
    await page.keyboard.press('Enter');
    await field('Name').waitFor();
    await tabTo(page, 'Name');
    await page.keyboard.type('shop-idp');
    await tabTo(page, 'Issuer');
    await page.keyboard.type('https://idp.shop.example.com/');
    await tabTo(page, 'Discovery URL');
    await page.keyboard.type('https://idp.shop.example.com/.well-known/openid-configuration');
    await shot(page, '23-key-manager-keyboard');
    await page.keyboard.press('Enter');
    await page.getByRole('cell', { name: 'shop-idp', exact: true }).waitFor();

    expect(await suite.seriousViolationsIn(context, ['/key-managers', `/projects/${project.id}/proxies/${proxy.id}`])).toEqual([]);
    // The form itself, open.
    expect(await suite.seriousViolationsIn(context, ['/key-managers'], (p) => p.getByRole('button', { name: 'New key manager' }).click())).toEqual([]);

    // A 375 px phone: the list scrolls in its own box, never the page sideways, and its state badges read whole.
    expect(await sidewaysScroll(suite.browser, suite.ui, page, [['key-managers', '/key-managers']], 375)).toEqual([['key-managers', 0]]);
    await context.close();
  });

  it("saves a project key manager's secrets from the project secret manager, its TLS settings and its timing", async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'km-secrets' });
    const shared = (name: string) =>
      admin.call('POST', `/api/v1/projects/${project.id}/secrets`, {
        name,
        kind: 'shared-secret',
        material: Buffer.from(`${name}-0123456789abcdef0123456789abcdef`).toString('base64url'),
      });
    const introspection = await shared('introspection-secret');
    const hmac = await shared('hmac-key');
    const pki = await TestPki.create();
    try {
      const ca = await pki.issue('km-ca', { subject: '/CN=km-ca', ca: true });
      const client = await pki.issue('km-client', { subject: '/CN=gateway', issuer: ca });
      const { context, page } = await suite.signedIn();
      const dialog = page.getByRole('dialog');
      const field = (label: string) => dialog.getByLabel(new RegExp(`^${label.replace(/[()%]/g, '\\$&')}\\s*\\*?$`));
      const pick = (combobox: string, option: string) => pickOption(page, dialog, combobox, option);

      await page.goto(`${suite.ui}/key-managers`);
      await page.getByRole('heading', { name: 'Key managers' }).waitFor();
      await page.getByRole('button', { name: 'New key manager' }).click();
      await field('Name').fill('partner-secrets');
      await pick('Scope', 'Project km-secrets');
      await field('Issuer').fill('https://secrets.partner.example.com/');
      await dialog.getByText('Explicit endpoints').click();
      await field('Introspection endpoint').fill('https://secrets.partner.example.com/introspect');
      await field('Introspection client id').fill('gateway');
      await pick('Token types', 'Both');
      await dialog.getByRole('combobox', { name: 'Allowed algorithms' }).click({ force: true });
      await page.getByRole('option', { name: 'HS256', exact: true }).click();
      await page.getByRole('option', { name: 'RS256', exact: true }).click();
      await dialog.getByRole('heading', { name: 'New key manager' }).click();
      await pick('Client secret from a project secret', 'introspection-secret');
      await pick('HS key from a project secret', 'hmac-key');
      await field('CA bundle (PEM)').fill(ca.cert);
      await field('Client certificate (PEM)').fill(client.cert);
      await field('Client key (PEM)').fill(client.key);
      await field('Call timeout (ms)').fill('2500');
      await field('JWKS cache at least (seconds)').fill('120');
      await field('Unknown kid refetch interval (seconds)').fill('45');
      await field('Introspection cache at most (seconds)').fill('60');
      await field('Inactive token cache (seconds)').fill('5');
      await dialog.getByRole('button', { name: 'Create key manager' }).click();
      await page.getByRole('cell', { name: 'partner-secrets', exact: true }).waitFor();
      await shot(page, '25-key-manager-secrets-tls-timing');
      const created = ((await admin.call('GET', '/api/v1/key-managers')) as { name: string; id: string }[]).find((k) => k.name === 'partner-secrets')!;
      const saved = await admin.call('GET', `/api/v1/key-managers/${created.id}`);
      expect(saved).toMatchObject({
        projectId: project.id,
        tokenTypes: 'both',
        algorithms: ['HS256'],
        clientId: 'gateway',
        clientSecretId: introspection.id,
        hasClientSecret: false,
        sharedSecretId: hmac.id,
        hasSharedSecret: false,
        tls: { caPem: ca.cert.trim(), clientCertificatePem: client.cert.trim(), hasClientKey: true },
        timing: {
          timeoutMs: 2500,
          jwksMinTtlSeconds: 120,
          unknownKidIntervalSeconds: 45,
          introspectionMaxTtlSeconds: 60,
          introspectionNegativeTtlSeconds: 5,
          jwksMaxTtlSeconds: 86_400,
        },
      });
      expect(JSON.stringify(saved)).not.toContain('PRIVATE KEY');

      // Edit: the pickers show the secrets by name; the CA removed, the stored client key kept (left empty), a timing bound refused on its field.
      await page.getByRole('button', { name: 'Edit key manager partner-secrets' }).click();
      await eventually(
        () => dialog.getByRole('combobox', { name: 'HS key from a project secret' }).inputValue(),
        (v) => v === 'hmac-key',
        { what: 'the stored HS key shown by its secret name' },
      );
      expect(await field('Client key (PEM)').inputValue()).toBe('');
      await field('CA bundle (PEM)').fill('');
      await field('Call timeout (ms)').fill('50');
      await dialog.getByRole('button', { name: 'Save key manager' }).click();
      await eventually(
        () => field('Call timeout (ms)').getAttribute('aria-invalid'),
        (v) => v === 'true',
        { what: 'a timeout under 100 ms refused on its field' },
      );
      await field('Call timeout (ms)').fill('3000');
      await dialog.getByRole('button', { name: 'Save key manager' }).click();
      await eventually(
        () => admin.call('GET', `/api/v1/key-managers/${created.id}`),
        (k: { timing: { timeoutMs: number } }) => k.timing.timeoutMs === 3000,
        { what: 'the edited key manager saved' },
      );
      expect(await admin.call('GET', `/api/v1/key-managers/${created.id}`)).toMatchObject({
        clientSecretId: introspection.id,
        sharedSecretId: hmac.id,
        tls: { caPem: null, clientCertificatePem: client.cert.trim(), hasClientKey: true },
      });
      expect(await suite.seriousViolationsIn(context, ['/key-managers'], (p) => p.getByRole('button', { name: 'Edit key manager partner-secrets' }).click())).toEqual([]);
      await admin.call('DELETE', `/api/v1/key-managers/${created.id}`);
      await context.close();
    } finally {
      await pki.remove();
    }
  });

  it('shows a project viewer the key managers without edit actions, and a project owner creates only in their project', async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'km-viewer-home' });
    await admin.call('POST', '/api/v1/key-managers', {
      name: 'viewer-visible',
      projectId: project.id,
      issuer: 'https://viewer.example/',
      algorithms: ['HS256'],
      sharedSecret: SHARED_SECRET,
    });
    const viewer = await projectViewer(admin, project.id, 'km-viewer', 'km-viewer-password-long');
    const { context, page } = await suite.signedIn('km-viewer', 'km-viewer-password-long');
    await page.goto(`${suite.ui}/key-managers`);
    await page.getByRole('cell', { name: 'viewer-visible', exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'New key manager' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Delete key manager/ }).count()).toBe(0);
    await page.getByRole('button', { name: 'View key manager viewer-visible' }).click();
    await page.getByText('You may look at this key manager but not change it.').waitFor();
    expect(await page.getByRole('dialog').getByRole('textbox', { name: 'Name' }).first().isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Save key manager' }).count()).toBe(0);
    await page.keyboard.press('Escape');

    // The same operator owns another project: they may create that project's key managers, and only there.
    const owned = await admin.projects.create({ name: 'km-owned' });
    await bindProjectRole(admin, 'project-owner', viewer, owned.id);
    await page.reload();
    await page.getByRole('button', { name: 'New key manager' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('combobox', { name: 'Scope' }).click({ force: true });
    expect(await page.getByRole('option').allTextContents()).toEqual(['Project km-owned']);
    await page.keyboard.press('Escape');
    await dialog.getByRole('textbox', { name: 'Name' }).first().fill('owned-idp');
    await dialog.getByRole('textbox', { name: 'Issuer' }).fill('https://owned.example.com/');
    await dialog.getByRole('textbox', { name: 'Discovery URL' }).fill('https://owned.example.com/.well-known/openid-configuration');
    await dialog.getByRole('button', { name: 'Create key manager' }).click();
    await page.getByRole('cell', { name: 'owned-idp', exact: true }).waitFor();
    const created = ((await admin.call('GET', '/api/v1/key-managers')) as { name: string; projectId: string | null }[]).find((k) => k.name === 'owned-idp');
    expect(created?.projectId).toBe(owned.id);
    await page.getByRole('button', { name: 'Delete key manager owned-idp' }).waitFor();
    expect(await page.getByRole('button', { name: 'Delete key manager viewer-visible' }).count()).toBe(0);
    await context.close();
  });
});
