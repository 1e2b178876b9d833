import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { Page } from 'playwright-core';
import { eventually } from '@idm/test-kit';
import { shot, sidewaysScroll } from './support/console-browser';
import { consoleSuite, projectViewer } from './support/console-suite';
import { addSigningKey, createDeployedProject, createLoginClient } from './support/login-cluster';

/**
 * "Sync now" on the console's identity sources (#18 over #16), in a real Chromium against a real
 * Manager and Gateway, with a real directory: a users table in the machine's MariaDB (the
 * installation's own PostgreSQL is no upstream a source may name), read by a System SQL source
 * with a lookup query that lets operators in and end users log in at the Gateway. An end user
 * (by the Gateway's password grant) and operators are provisioned through it, the end user and two
 * operators deleted from the table; the row action asks first, a run that would disable more than
 * the source's limit shows the Manager's `sync_guard_tripped` detail with nobody disabled, and
 * with the limit raised the report names the end user disabled and the two operators signed out
 * (their sessions end, the third's does not). Only
 * sources with sync settings offer it, and a project viewer sees none; the report passes
 * axe-core, and the list reads whole on a 375 px phone (no badge cut).
 */
const ENV = 'console-identity-sync';
// A browser session through several dialogs on a loaded machine.
jest.setTimeout(420_000);

describe('the console: syncing an identity source by hand in Chromium', () => {
  // A signing key active at once: the Gateway's password grant provisions the end user.
  const suite = consoleSuite({ environment: ENV, gateways: [{}], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
  const s = randomBytes(3).toString('hex');
  const database = `idm_consync_${s}`;
  const dbPassword = `db-${randomBytes(8).toString('hex')}`;
  const lookupQuery = 'SELECT 1 FROM app_users WHERE login = :username';
  const sqlConfig = {
    driver: 'mysql',
    host: '127.0.0.1',
    port: 3306,
    database,
    user: database,
    query: 'SELECT pw AS password FROM app_users WHERE login = :username',
    passwordFormat: 'plain',
  };
  const admin = () => suite.cluster.admin;
  const maria = () => mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });

  beforeAll(async () => {
    const c = await maria();
    await c.query(`CREATE DATABASE ${database}`);
    await c.query(`CREATE USER '${database}'@'%' IDENTIFIED BY '${dbPassword}'`);
    await c.query(`GRANT SELECT ON ${database}.* TO '${database}'@'%'`);
    await c.changeUser({ database });
    await c.query('CREATE TABLE app_users (login varchar(64) PRIMARY KEY, pw text NOT NULL)');
    await c.query("INSERT INTO app_users VALUES ('olga', 'olga-pass'), ('pete', 'pete-pass'), ('quinn', 'quinn-pass'), ('rita', 'rita-pass')");
    await c.end();
  });

  afterAll(async () => {
    const c = await maria();
    await c.query(`DROP DATABASE IF EXISTS ${database}`);
    await c.query(`DROP USER IF EXISTS '${database}'@'%'`);
    await c.end();
  });

  /** An operator's login through the directory (no local account by that name): provisioned, with a session. */
  const operatorLogin = async (username: string): Promise<string> => {
    const res = await fetch(`${suite.cluster.manager.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: `${username}-pass` }),
    });
    expect([username, res.status]).toEqual([username, 200]);
    return ((await res.json()) as { token: string }).token;
  };
  const sessionStatus = (token: string) => fetch(`${suite.cluster.manager.baseUrl}/api/v1/me/permissions`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
  /** An end user's login at the Gateway (the password grant of a client listing the source): provisioned at the first. */
  const passwordGrant = (clientId: string, username: string) =>
    fetch(`${suite.cluster.gateways[0].baseUrl}/credential/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:client-secret-1`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'password', username, password: `${username}-pass` }).toString(),
    }).then((r) => r.status);
  const syncButtons = (page: Page) => page.getByRole('button', { name: /^Sync now: identity source / });
  const confirmSync = async (page: Page, name: string) => {
    await page.getByRole('button', { name: `Sync now: identity source ${name}` }).click();
    await page
      .getByRole('dialog', { name: `Sync identity source ${name}` })
      .getByRole('button', { name: 'Sync now' })
      .click();
  };

  it('asks first, shows a guard trip with its detail and nobody disabled, then reports the end user disabled and the operators signed out; only syncable sources offer it, never to a viewer', async () => {
    const staff = await admin().call('POST', '/api/v1/identity-sources', {
      name: 'staff-db',
      type: 'sql',
      config: sqlConfig,
      secret: dbPassword,
      operatorLogin: { enabled: true, groupBindings: [] },
      sync: { enabled: false, lookupQuery, maxDisabledPerRun: 1 },
    });
    // A REST source cannot be asked whether a user exists: no sync settings, no "Sync now".
    await admin().call('POST', '/api/v1/identity-sources', { name: 'partner-api', type: 'rest', config: { url: 'http://127.0.0.1:9/login' }, secret: 'partner-key' });
    await addSigningKey(suite.cluster, ENV, 'ES256');
    const shop = await createDeployedProject(suite.cluster, ENV, 'sync-shop', '/sync-orders');
    const app = await createLoginClient(suite.cluster, shop, { name: 'shop-app', secret: 'client-secret-1', settings: { grants: ['password'], identitySources: ['staff-db'] } });
    await eventually(
      () => passwordGrant(app, 'rita'),
      (status) => status === 200,
      { what: 'rita provisioned through staff-db at the Gateway', timeoutMs: 120_000 },
    );
    const rita = async () => ((await admin().call('GET', `/api/v1/projects/${shop}/users`)) as { username: string; enabled: boolean }[]).find((u) => u.username === 'rita');
    expect(await rita()).toMatchObject({ enabled: true });
    const tokens = { olga: await operatorLogin('olga'), pete: await operatorLogin('pete'), quinn: await operatorLogin('quinn') };
    const c = await maria();
    await c.query(`DELETE FROM ${database}.app_users WHERE login IN ('olga', 'pete', 'rita')`);
    await c.end();

    const { context, page } = await suite.signedIn();
    await page.goto(`${suite.ui}/identity-sources`);
    await page.getByRole('row').filter({ hasText: 'partner-api' }).waitFor();
    expect(await syncButtons(page).evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label')))).toEqual(['Sync now: identity source staff-db']);

    // Asked first; Cancel runs nothing.
    await page.getByRole('button', { name: 'Sync now: identity source staff-db' }).click();
    const confirm = page.getByRole('dialog', { name: 'Sync identity source staff-db' });
    await confirm.getByText('If more than 1 are gone, nobody is disabled').waitFor();
    await shot(page, '40-identity-source-sync-confirm');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    expect(await sessionStatus(tokens.olga)).toBe(200);

    // Three gone with a limit of one: the Manager refuses (409 sync_guard_tripped), its detail shown, nobody disabled.
    await confirmSync(page, 'staff-db');
    const refusal = page.getByRole('alert').filter({ hasText: 'Not done' });
    await refusal.getByText(/nobody was disabled: 3 users are no longer found, more than maxDisabledPerRun \(1\)/).waitFor();
    await page.getByRole('dialog', { name: 'Sync identity source staff-db' }).waitFor({ state: 'hidden' });
    await shot(page, '41-identity-source-sync-guard');
    expect(await page.getByRole('dialog', { name: 'Sync of staff-db' }).count()).toBe(0);
    expect([await sessionStatus(tokens.olga), await sessionStatus(tokens.pete)]).toEqual([200, 200]);
    expect(await rita()).toMatchObject({ enabled: true });

    // They really left: the limit raised, the run disables the end user, signs both operators out and says so by name.
    await admin().call('PATCH', `/api/v1/identity-sources/${staff.id}`, { sync: { enabled: false, lookupQuery, maxDisabledPerRun: 5 } });
    await page.reload();
    await confirmSync(page, 'staff-db');
    const report = page.getByRole('dialog', { name: 'Sync of staff-db' });
    await report.getByText('Checked 1 end user and 3 operators').waitFor();
    await report.getByText('Disabled 1 end user gone from the directory: rita').waitFor();
    await page.getByRole('dialog', { name: 'Sync identity source staff-db' }).waitFor({ state: 'hidden' });
    const signedOut = await report.getByText(/^Signed out 2 operators gone from the directory/).textContent();
    expect(signedOut).toContain('staff-db:olga');
    expect(signedOut).toContain('staff-db:pete');
    expect(signedOut).not.toContain('quinn');
    expect(await refusal.count()).toBe(0); // the earlier refusal is gone with the run that succeeded
    await shot(page, '42-identity-source-sync-report');
    expect([await sessionStatus(tokens.olga), await sessionStatus(tokens.pete), await sessionStatus(tokens.quinn)]).toEqual([401, 401, 200]);
    expect(await rita()).toMatchObject({ enabled: false });
    await page.keyboard.press('Escape');
    await report.waitFor({ state: 'hidden' });
    // Editing the source shows its sync and operator-login settings as stored (the form once showed neither).
    await page.getByRole('button', { name: 'Edit identity source staff-db' }).click();
    const form = page.getByRole('dialog', { name: 'Identity source staff-db' });
    expect([await form.locator('#source-sql_sync_lookupQuery').inputValue(), await form.locator('#source-sql_sync_maxDisabledPerRun').inputValue()]).toEqual([lookupQuery, '5']);
    expect(await form.locator('#source-sql_operatorLogin_enabled').isChecked()).toBe(true);
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'hidden' });

    // The report dialog (a run with nobody left to sign out) passes axe-core.
    const runAgain = async (p: Page) => {
      await confirmSync(p, 'staff-db');
      await p.getByRole('dialog', { name: 'Sync of staff-db' }).getByText('nobody was disabled').waitFor();
    };
    expect(await suite.seriousViolationsIn(context, ['/identity-sources'], runAgain)).toEqual([]);
    await context.close();

    // A project viewer reads the sources (its project's syncable one too) with no way to sync any.
    const project = await admin().projects.create({ name: 'sync-viewers' });
    await admin().call('POST', '/api/v1/identity-sources', {
      name: 'shop-db',
      type: 'sql',
      projectId: project.id,
      config: sqlConfig,
      secret: dbPassword,
      sync: { enabled: false, lookupQuery },
    });
    await projectViewer(admin(), project.id, 'sync-viewer', 'sync-viewer-password');
    const viewer = await suite.signedIn('sync-viewer', 'sync-viewer-password');
    await viewer.page.goto(`${suite.ui}/identity-sources`);
    await viewer.page.getByRole('row').filter({ hasText: 'shop-db' }).waitFor();
    expect(await syncButtons(viewer.page).count()).toBe(0);
    await viewer.context.close();
  });

  it('lists identity sources legibly on a 375 px phone: nothing scrolls sideways, no state badge is cut', async () => {
    for (const [name, enabled] of [
      ['phone-enabled', true],
      ['phone-disabled', false],
    ] as const)
      await admin().call('POST', '/api/v1/identity-sources', { name, type: 'rest', config: { url: 'http://127.0.0.1:9/login' }, secret: 'k', enabled });
    const { context, page } = await suite.signedIn();
    expect(await sidewaysScroll(suite.browser, suite.ui, page, [['identity-sources-phone', '/identity-sources']], 375)).toEqual([['identity-sources-phone', 0]]);
    await context.close();
  });
});
