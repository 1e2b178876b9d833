import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { eventually } from '@idm/test-kit';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { Browser } from 'playwright-core';
import { CLUSTER_ADMIN_PASSWORD, startCluster, type Cluster } from './support/cluster';
import { SHOTS, launchChromium, seriousViolationsIn as axeIn, shot, sidewaysScroll, signIn as signInAt, tabTo, type NarrowScreen } from './support/console-browser';

/**
 * The console in a real Chromium (Debian's, driven by playwright-core) against a real Manager
 * and Gateway: an operator does the daily work without the API docs, a project viewer sees no
 * edit buttons and is told why a forbidden page is empty, and the main screens have no serious
 * accessibility violations (axe-core). Screenshots land in .test-output/console/.
 */
const ENV = 'console-e2e';
// A browser session through every screen: minutes on a loaded machine, not the usual two.
jest.setTimeout(420_000);

describe('the Manager console in Chromium', () => {
  let cluster: Cluster;
  let browser: Browser;
  let ui: string;

  const signIn = (context: Parameters<typeof signInAt>[0], username: string, password: string) => signInAt(context, ui, username, password);
  const seriousViolationsIn = (context: Parameters<typeof axeIn>[2], paths: string[]) => axeIn(browser, ui, context, paths);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cluster = await startCluster({ environment: ENV, gateways: [{}] });
    ui = `${cluster.manager.baseUrl}/ui`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('is served under /ui with a strict policy, index never cached, hashed assets cached for good', async () => {
    const index = await fetch(`${ui}/projects/deep/link`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"]) expect(csp).toContain(directive);
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    const html = await index.text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const script = await fetch(cluster.manager.baseUrl + asset!);
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    // Nothing outside the build is reachable, however the path is spelled (403 or 404, never the file).
    for (const path of [
      '/ui/assets/../../package.json',
      '/ui/assets/..%2f..%2fpackage.json',
      '/ui/assets/%2e%2e/%2e%2e/vite.config.mts',
      '/ui/assets/%2e%2e%2f%2e%2e%2fpackage.json',
    ]) {
      const answer = await fetch(cluster.manager.baseUrl + path);
      expect([403, 404]).toContain(answer.status);
      expect(await answer.text()).not.toMatch(/@idm\/console|defineConfig/);
    }
    const root = await fetch(`${cluster.manager.baseUrl}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/ui/']);
  });

  it('lets an operator sign in, build a proxy with api-key and a rate limit, issue and rotate a key that works on the Gateway, and watch the audit', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cluster.manager.baseUrl });
    const page = await context.newPage();
    await page.goto(`${ui}/`);
    await shot(page, '01-sign-in');
    await page.getByRole('textbox', { name: 'Username' }).fill('admin');
    await page.getByRole('textbox', { name: 'Password' }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /invalid|incorrect|wrong/i })
      .waitFor();
    await page.getByRole('textbox', { name: 'Password' }).fill(CLUSTER_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByText('No projects yet').waitFor();
    await shot(page, '02-projects-empty');

    await page.getByRole('button', { name: 'New project' }).click();
    await page.getByLabel('Name').fill('Shop Team'); // not a valid name: the problem's detail shows
    await page.getByRole('button', { name: 'Create project' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /one or more fields are invalid|must be/ })
      .waitFor();
    await page.getByLabel('Name').fill('shop');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'Project shop' }).waitFor();
    const projectId = /projects\/([0-9a-f-]{36})/.exec(page.url())![1];

    await page.getByRole('button', { name: 'New API proxy' }).click();
    await page.getByRole('heading', { name: 'New API proxy' }).waitFor();
    await page.getByLabel('Name').fill('orders');
    await page.getByLabel('Base path').fill('/orders');
    await page.getByLabel('Upstream URL').fill(cluster.echoUrl);
    await page.getByRole('combobox', { name: 'Deployed to environments' }).click({ force: true });
    await page.getByRole('option', { name: ENV }).click();
    await page.keyboard.press('Escape');
    await page.getByRole('combobox', { name: 'Add a policy' }).click({ force: true });
    await page.getByRole('option', { name: 'rate-limit' }).click();
    await page.getByRole('button', { name: 'Add policy' }).click();
    const rateLimit = page.getByLabel('Policy 2: rate-limit');
    await rateLimit.locator('#policy-1_limits .btn-add').first().click();
    await rateLimit.locator('#policy-1_limits_0_limit').fill('0');
    await rateLimit.locator('#policy-1_limits_0_windowSeconds').fill('60');
    // The Manager refuses the chain; its finding shows on the field it names, nothing is created.
    await page.getByRole('button', { name: 'Create API proxy' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not saved' }).waitFor();
    const limitField = rateLimit
      .locator('.form-group')
      .filter({ has: page.locator('#policy-1_limits_0_limit') })
      .last();
    await limitField.getByText(/>= ?1|too small|at least 1/i).waitFor();
    await shot(page, '03-proxy-editor-field-error');
    expect(await cluster.admin.call('GET', `/api/v1/projects/${projectId}/proxies`)).toEqual([]);
    await rateLimit.locator('#policy-1_limits_0_limit').fill('100');
    await shot(page, '03-proxy-editor');
    await page.getByRole('button', { name: 'Create API proxy' }).click();
    await page.getByRole('heading', { name: 'API proxy orders' }).waitFor();
    const proxies = await cluster.admin.call('GET', `/api/v1/projects/${projectId}/proxies`);
    expect(proxies).toHaveLength(1);
    expect(proxies[0].policies.map((p: { type: string }) => p.type)).toEqual(['api-key', 'rate-limit']);
    expect(proxies[0].policies[1].config.limits).toEqual([{ limit: 100, windowSeconds: 60, algorithm: 'fixed' }]);
    expect(proxies[0].environments).toEqual([ENV]);

    await page.goto(`${ui}/projects/${projectId}`);
    await page.getByRole('tab', { name: 'Credentials' }).click();
    await page.getByRole('button', { name: 'New credential' }).click();
    await page.getByRole('textbox', { name: 'Username' }).fill('billing');
    await page.getByRole('button', { name: 'Create credential' }).click();
    const issued = page.getByTestId('issued-api-key');
    await issued.waitFor();
    const firstKey = (await issued.textContent())!.trim();
    await page.getByRole('button', { name: 'Copy key' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(firstKey);
    await shot(page, '04-key-shown-once');
    await page.keyboard.press('Escape');

    const gateway = cluster.gateways[0];
    const call = (key: string) => fetch(`${gateway.baseUrl}/orders/items`, { headers: { 'x-api-key': key } }).then((r) => r.status);
    await eventually(
      () => call(firstKey),
      (s) => s === 200,
      { what: 'the issued key works on the Gateway' },
    );

    // The audit's live tail, open in a second tab (signed in there too: the session is per tab) while the key is rotated in the first.
    const audit = await context.newPage();
    await audit.goto(`${ui}/`);
    await audit.evaluate((session) => sessionStorage.setItem('idm.session', session!), await page.evaluate(() => sessionStorage.getItem('idm.session')));
    await audit.goto(`${ui}/audit`);
    await audit.getByLabel('Live tail').check();
    await audit.getByText('Waiting for changes…').waitFor();

    await page.getByRole('button', { name: 'Rotate' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
    await eventually(
      () => issued.textContent(),
      (text) => !!text && text.trim() !== firstKey,
      { what: 'the rotated key shown' },
    );
    const secondKey = (await issued.textContent())!.trim();
    await eventually(
      () => call(secondKey),
      (s) => s === 200,
      { what: 'the rotated key works on the Gateway' },
    );
    expect(await call(firstKey)).toBe(200); // grace period: the old key keeps working

    const live = audit.getByRole('table', { name: 'Audit live' });
    await live.getByText('ui').first().waitFor();
    await shot(audit, '05-audit-live');
    const page1 = await cluster.admin.audit.query({ projectId, limit: '20' });
    expect(page1.items.filter((e) => e.actor.source === 'ui').length).toBeGreaterThanOrEqual(3); // project, proxy, credential, rotation
    expect(page1.items.every((e) => e.actor.source === 'ui')).toBe(true);

    expect(await seriousViolationsIn(context, ['/projects', `/projects/${projectId}`, `/projects/${projectId}/proxies/${proxies[0].id}`, '/audit', '/environments'])).toEqual([]);
    await context.close();
  });

  it('administers teams, operators, groups, roles, bindings, signing keys and brute-force blocks, by mouse, by keyboard and on a narrow window', async () => {
    const admin = cluster.admin;
    const home = await admin.projects.create({ name: 'administered' });
    const environments: { id: string; name: string }[] = await admin.call('GET', '/api/v1/environments');
    const environmentId = environments.find((e) => e.name === ENV)!.id;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await signIn(context, 'admin', CLUSTER_ADMIN_PASSWORD);
    const dialog = page.getByRole('dialog');
    const confirmIn = (name: string) => dialog.getByRole('button', { name }).click();
    const closed = () => dialog.waitFor({ state: 'hidden' });
    const pick = async (combobox: string, option: string) => {
      await dialog.getByRole('combobox', { name: combobox }).click({ force: true });
      await page.getByRole('option', { name: option, exact: true }).click();
    };

    // Teams: the empty state says what a team is for; one is created, another deleted after a confirmation.
    await page.goto(`${ui}/projects/${home.id}?tab=teams`);
    await page.getByText('No teams yet').waitFor();
    for (const name of ['payments', 'legacy']) {
      await page.getByRole('button', { name: 'New team' }).click();
      await dialog.getByRole('textbox', { name: 'Name' }).fill(name);
      await confirmIn('Create team');
      await page.getByRole('cell', { name, exact: true }).waitFor();
    }
    await page.getByRole('button', { name: 'Delete team legacy' }).click();
    await confirmIn('Delete');
    await eventually(
      () => page.getByRole('cell', { name: 'legacy', exact: true }).count(),
      (n) => n === 0,
      { what: 'the deleted team gone' },
    );
    expect((await admin.call('GET', `/api/v1/projects/${home.id}/teams`)).map((t: { name: string }) => t.name)).toEqual(['payments']);
    await shot(page, '08-teams');

    // Access: an operator, a group holding them, a custom role, bound to the group at the system scope.
    await page.getByRole('link', { name: 'Access' }).click();
    await page.getByRole('heading', { name: 'Access' }).waitFor();
    await page.getByRole('button', { name: 'New operator' }).click();
    await dialog.getByRole('textbox', { name: 'Username' }).fill('carol');
    await dialog.getByRole('textbox', { name: 'Password' }).fill('short');
    await confirmIn('Create operator');
    await dialog.getByRole('alert').waitFor(); // the Manager's problem detail, in the form
    await dialog.getByRole('textbox', { name: 'Password' }).fill('carol-password-long');
    await confirmIn('Create operator');
    await page.getByRole('cell', { name: 'carol', exact: true }).waitFor();
    await shot(page, '09-operators');

    await page.getByRole('tab', { name: 'Groups' }).click();
    await page.getByText('No groups yet').waitFor();
    await page.getByRole('button', { name: 'New group' }).click();
    await dialog.getByRole('textbox', { name: 'Name' }).fill('ops');
    await confirmIn('Create group');
    await closed();
    await page.getByRole('combobox', { name: 'Add an operator to ops' }).click({ force: true });
    await page.getByRole('option', { name: 'carol', exact: true }).click();
    await page.getByRole('button', { name: 'Remove carol from ops' }).waitFor();
    await shot(page, '10-groups');

    await page.getByRole('tab', { name: 'Roles' }).click();
    await page.getByRole('button', { name: 'New role' }).click();
    await dialog.getByRole('textbox', { name: 'Name' }).fill('auditor');
    await pick('Permissions', 'audit:read');
    await dialog.getByRole('heading', { name: 'New role' }).click(); // closes the option list
    await confirmIn('Create role');
    await page.getByRole('button', { name: 'Delete role auditor' }).waitFor();
    expect(await page.getByRole('button', { name: 'Delete role system-admin' }).count()).toBe(0);
    await shot(page, '11-roles');

    await page.getByRole('tab', { name: 'Role bindings' }).click();
    await page.getByRole('button', { name: 'Bind a role' }).click();
    await pick('Role', 'auditor');
    await dialog.getByText('Group', { exact: true }).click();
    await pick('Group', 'ops');
    await dialog.getByText('System', { exact: true }).click();
    await confirmIn('Bind role');
    await page.getByRole('cell', { name: 'group ops', exact: true }).waitFor();
    await shot(page, '12-role-bindings');
    const carol = await fetch(`${cluster.manager.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'carol', password: 'carol-password-long' }),
    }).then((r) => r.json() as Promise<{ token: string }>);
    const carolMay = await fetch(`${cluster.manager.baseUrl}/api/v1/me/permissions`, { headers: { authorization: `Bearer ${carol.token}` } }).then((r) => r.json());
    expect(carolMay.permissions).toEqual(['audit:read']);

    // Signing keys: the first generated if there is none, then rotated; the JWKS publishes both until the old one retires.
    await page.getByRole('link', { name: 'Environments' }).click();
    // A new environment from the console: a name the API refuses is shown on its field, nothing written.
    await page.getByRole('button', { name: 'New environment' }).click();
    const envDialog = page.getByRole('dialog', { name: 'New environment' });
    await envDialog.getByLabel(/^Name/).fill('Not A Name');
    await envDialog.getByRole('button', { name: 'Create environment' }).click();
    await envDialog.getByRole('alert').filter({ hasText: 'Not done' }).waitFor();
    const namesNow = async () => ((await admin.call('GET', '/api/v1/environments')) as { name: string }[]).map((e) => e.name);
    expect(await namesNow()).not.toContain('Not A Name');
    await envDialog.getByLabel(/^Name/).fill('console-staging');
    await envDialog.getByLabel('Description').fill('made in the console');
    await envDialog.getByRole('button', { name: 'Create environment' }).click();
    await envDialog.waitFor({ state: 'hidden' });
    await page.getByRole('link', { name: 'console-staging' }).waitFor();
    const staging = ((await admin.call('GET', '/api/v1/environments')) as { id: string; name: string; description: string }[]).find((e) => e.name === 'console-staging')!;
    expect(staging.description).toBe('made in the console');
    await admin.call('DELETE', `/api/v1/environments/${staging.id}`);
    await page.getByRole('link', { name: ENV }).click();
    await page.getByRole('heading', { name: `Environment ${ENV}` }).waitFor();
    await page.getByRole('button', { name: /(Generate|Rotate) signing key/ }).waitFor();
    if (await page.getByRole('button', { name: 'Generate signing key' }).count()) {
      await page.getByRole('button', { name: 'Generate signing key' }).click();
      await confirmIn('Generate');
      await page.getByRole('button', { name: 'Rotate signing key' }).waitFor();
    }
    const before: unknown[] = await admin.call('GET', `/api/v1/environments/${environmentId}/signing-keys`);
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await dialog.getByRole('textbox', { name: /Keep the old key published/ }).fill('3600');
    await confirmIn('Rotate');
    const after: { kid: string; publishedUntil: string | null }[] = await eventually(
      (): Promise<{ kid: string; publishedUntil: string | null }[]> => admin.call('GET', `/api/v1/environments/${environmentId}/signing-keys`),
      (keys) => keys.length === before.length + 1,
      { what: 'the rotated key listed' },
    );
    const jwks = JSON.parse((await page.getByLabel('JWKS').textContent())!) as { keys: { kid: string }[] };
    await eventually(
      async () => JSON.parse((await page.getByLabel('JWKS').textContent())!) as { keys: { kid: string }[] },
      (doc) => doc.keys.length >= 2,
      { what: 'both keys in the JWKS' },
    );
    expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of after.filter((k) => k.publishedUntil === null)) await page.getByText(key.kid, { exact: true }).first().waitFor();
    await shot(page, '13-signing-keys');

    // Brute-force blocks: an address that guessed keys is blocked on the Gateway, seen here and lifted after a confirmation.
    await admin.proxies.create(home.id, { name: 'guarded', basePath: '/guarded', upstreamUrl: cluster.echoUrl, policies: [{ type: 'api-key', config: {} }], environments: [ENV] });
    const fromGuesser = () => statusFrom('127.0.0.2', `${cluster.gateways[0].baseUrl}/guarded/x`, { 'x-api-key': 'idm_not-a-key' });
    await eventually(fromGuesser, (s) => s === 401 || s === 429, { what: 'the guarded proxy deployed', timeoutMs: 60_000 });
    await eventually(fromGuesser, (s) => s === 429, { what: 'the guessing address blocked', timeoutMs: 120_000, intervalMs: 10 });
    await page.getByRole('tab', { name: 'Brute-force blocks' }).click();
    await page.getByRole('cell', { name: '127.0.0.2', exact: true }).waitFor();
    await shot(page, '14-brute-force-blocks');
    await page.getByRole('button', { name: 'Unblock 127.0.0.2' }).click();
    await confirmIn('Unblock');
    await page.getByText('Nobody is blocked').waitFor();
    await eventually(fromGuesser, (s) => s === 401, { what: 'the lifted address heard again' });

    // Keyboard only: from the page's start to the Access section, its Groups tab, and a group created with Enter; focus always visible.
    await page.goto(`${ui}/projects`);
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await tabTo(page, 'Access');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Access' }).waitFor();
    await tabTo(page, 'Operators');
    await page.keyboard.press('ArrowRight');
    await page.getByRole('tab', { name: 'Groups', selected: true }).waitFor();
    await tabTo(page, 'New group');
    await page.keyboard.press('Enter');
    await dialog.getByRole('textbox', { name: 'Name' }).waitFor();
    await tabTo(page, 'Name');
    await page.keyboard.type('keyboard-made');
    await page.keyboard.press('Enter');
    await page.getByRole('cell', { name: /^keyboard-made/ }).waitFor();

    expect(
      await seriousViolationsIn(context, [
        `/projects/${home.id}?tab=teams`,
        '/access',
        '/access?tab=groups',
        '/access?tab=roles',
        '/access?tab=bindings',
        `/environments/${environmentId}`,
        `/environments/${environmentId}?tab=blocks`,
      ]),
    ).toEqual([]);

    // A narrow window (420 px): no screen scrolls sideways and no badge is cut (the audit's actor sources, the roles' built-in mark),
    // the sections are one tap away behind the menu button.
    const narrowScreens: NarrowScreen[] = [
      ['projects', '/projects'],
      ['project', `/projects/${home.id}`],
      ['credentials', `/projects/${home.id}?tab=credentials`],
      ['teams', `/projects/${home.id}?tab=teams`],
      ['access', '/access?tab=bindings'],
      ['roles', '/access?tab=roles'],
      ['environment', `/environments/${environmentId}`],
      ['audit', '/audit'],
      ['apiops', '/apiops'],
    ];
    expect(await sidewaysScroll(browser, ui, page, narrowScreens)).toEqual(narrowScreens.map(([name]) => [name, 0]));
    const storage = await page.evaluate(() => sessionStorage.getItem('idm.session'));
    const narrow = await browser.newContext({ viewport: { width: 420, height: 860 } });
    await narrow.addInitScript((session) => sessionStorage.setItem('idm.session', session!), storage);
    const small = await narrow.newPage();
    await small.goto(`${ui}/projects`);
    await small.getByRole('heading', { level: 2 }).first().waitFor();
    await small.getByRole('button', { name: 'Toggle navigation' }).click();
    await small.getByRole('link', { name: 'Access' }).click();
    await small.getByRole('heading', { name: 'Access' }).waitFor();
    await narrow.close();
    await context.close();
  });

  it('decides self-service requests, keeps project secrets write-only, and exports, plans and applies an APIops bundle', async () => {
    const admin = cluster.admin;
    const project = await admin.projects.create({ name: 'selfserve' });
    const proxy = await admin.proxies.create(project.id, {
      name: 'public-api',
      basePath: '/public',
      upstreamUrl: cluster.echoUrl,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
      selfService: 'manual',
    });
    for (const username of ['dev-one', 'dev-two']) {
      const asked = await fetch(`${cluster.manager.baseUrl}/api/v1/self-service/credential-requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ proxyId: proxy.id, username, contact: `${username}@example.com` }),
      });
      expect(asked.status).toBe(201);
    }
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await signIn(context, 'admin', CLUSTER_ADMIN_PASSWORD);
    const dialog = page.getByRole('dialog');

    await page.goto(`${ui}/projects/${project.id}`);
    await page.getByRole('tab', { name: 'Requests' }).click();
    await page.getByRole('button', { name: 'Approve dev-one' }).click();
    await page.getByRole('button', { name: 'Reject dev-two' }).click();
    await dialog.getByRole('button', { name: 'Reject' }).click();
    await page.getByText('rejected', { exact: true }).waitFor();
    await page.getByText('approved', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: /^(Approve|Reject) / }).count()).toBe(0);
    await shot(page, '16-self-service-requests');
    const credentials: { username: string }[] = await admin.call('GET', `/api/v1/projects/${project.id}/credentials`);
    expect(credentials.map((c) => c.username)).toEqual(['dev-one']);

    // APIops: the project downloaded as YAML, a team added to the file, the plan shown, then applied.
    await page.getByRole('link', { name: 'APIops' }).click();
    await page.getByRole('heading', { name: 'APIops' }).waitFor();
    await page.getByRole('combobox', { name: 'Project' }).click({ force: true });
    await page.getByRole('option', { name: 'selfserve', exact: true }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download bundle' }).click()]);
    expect(download.suggestedFilename()).toBe('selfserve.bundle.yaml');
    const bundle = parseYaml(readFileSync((await download.path())!, 'utf8')) as { project: { name: string }; proxies: { name: string }[]; teams: { name: string }[] };
    expect([bundle.project.name, bundle.proxies.map((p) => p.name)]).toEqual(['selfserve', ['public-api']]);

    const broken = join(SHOTS, 'broken.bundle.json');
    writeFileSync(broken, JSON.stringify({ apiVersion: 'nope' }));
    const fileInput = page.locator('input[type=file]');
    await fileInput.setInputFiles(broken);
    await page.getByRole('button', { name: 'Plan' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /bundle|apiVersion/i })
      .waitFor(); // the problem's detail

    const edited = join(SHOTS, 'selfserve.bundle.yaml');
    writeFileSync(edited, toYaml({ ...bundle, teams: [...bundle.teams, { name: 'imported', description: 'from a bundle' }] }));
    await fileInput.setInputFiles(edited);
    await page.getByRole('button', { name: 'Plan' }).click();
    const plan = page.getByRole('table', { name: 'Plan' });
    await plan.getByRole('cell', { name: 'imported', exact: true }).waitFor();
    await shot(page, '17-apiops-plan');
    expect((await admin.call('GET', `/api/v1/projects/${project.id}/teams`)).length).toBe(0); // a plan changes nothing
    await page.getByRole('button', { name: /^Apply \d+ change/ }).click();
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await page.getByText(`Project selfserve now matches the bundle.`).waitFor();
    await shot(page, '18-apiops-applied');
    expect((await admin.call('GET', `/api/v1/projects/${project.id}/teams`)).map((t: { name: string }) => t.name)).toEqual(['imported']);

    // Project secrets: the value goes in once and is never shown again (the API returns public parts only).
    const sharedValue = Buffer.from('a shared secret of more than sixteen bytes').toString('base64url');
    await page.goto(`${ui}/projects/${project.id}?tab=secrets`);
    await page.getByText('No secrets yet').waitFor();
    await page.getByRole('button', { name: 'New secret' }).click();
    await dialog.getByRole('textbox', { name: 'Name' }).fill('partner-hmac');
    await dialog.getByRole('textbox', { name: 'Value' }).fill(sharedValue);
    await dialog.getByRole('button', { name: 'Create secret' }).click();
    await page.getByRole('cell', { name: 'partner-hmac', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Rotate secret partner-hmac' }).click();
    await dialog.getByRole('textbox', { name: 'Value' }).fill(Buffer.from('the next shared secret, also long enough').toString('base64url'));
    await dialog.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('older versions still usable until they retire').waitFor();
    await shot(page, '19-secrets');
    expect(await page.content()).not.toContain(sharedValue);
    const secrets = await admin.call('GET', `/api/v1/projects/${project.id}/secrets`);
    expect([secrets[0].currentVersion, JSON.stringify(secrets).includes(sharedValue)]).toEqual([2, false]);

    expect(await seriousViolationsIn(context, [`/projects/${project.id}?tab=requests`, `/projects/${project.id}?tab=secrets`, '/apiops'])).toEqual([]);
    await context.close();
  });

  /** An HTTP status asked from a given local address (127.0.0.0/8 is all loopback): the Gateway counts failures per address. */
  function statusFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(url, { localAddress, headers }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('shows a project viewer no edit actions, and says why a forbidden page is empty', async () => {
    const admin = cluster.admin;
    const visible = await admin.projects.create({ name: 'visible' });
    const hidden = await admin.projects.create({ name: 'hidden' });
    await admin.proxies.create(visible.id, { name: 'catalog', basePath: '/catalog', upstreamUrl: cluster.echoUrl, policies: [{ type: 'api-key', config: {} }] });
    await admin.credentials.create(visible.id, { username: 'reader-app' });
    const viewer = await admin.call('POST', '/api/v1/users', { username: 'viewer', password: 'viewer-password-long' });
    const roles: { id: string; name: string }[] = await admin.call('GET', '/api/v1/roles');
    const projectViewer = roles.find((r) => r.name === 'project-viewer')!;
    await admin.call('POST', '/api/v1/role-bindings', { roleId: projectViewer.id, subject: { type: 'user', id: viewer.id }, scope: { type: 'project', id: visible.id } });

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await signIn(context, 'viewer', 'viewer-password-long');
    await page.getByRole('link', { name: 'visible' }).waitFor();
    expect(await page.getByRole('link', { name: 'hidden' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'New project' }).count()).toBe(0);

    await page.getByRole('link', { name: 'visible' }).click();
    await page.getByRole('link', { name: 'catalog' }).waitFor();
    expect(await page.getByRole('button', { name: 'New API proxy' }).count()).toBe(0);
    await page.getByRole('tab', { name: 'Credentials' }).click();
    await page.getByText('reader-app').waitFor();
    for (const name of ['New credential', 'Rotate', 'Revoke']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    expect(await page.getByRole('switch', { name: 'reader-app enabled' }).isDisabled()).toBe(true);
    await shot(page, '06-viewer-credentials');

    await page
      .getByRole('link', { name: 'API proxies' })
      .or(page.getByRole('tab', { name: 'API proxies' }))
      .first()
      .click();
    await page.getByRole('link', { name: 'catalog' }).click();
    await page.getByRole('heading', { name: 'API proxy catalog' }).waitFor();
    expect(await page.getByRole('button', { name: /Save changes|Remove|Add policy/ }).count()).toBe(0);
    expect(await page.getByLabel('Name').isDisabled()).toBe(true);

    await page.goto(`${ui}/projects/${hidden.id}`);
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/You may not see this.*missing permission 'project:read'/s);
    await shot(page, '07-viewer-forbidden');
    await context.close();
  });
});
