import { eventually } from '@idm/test-kit';
import { shot } from './support/console-browser';
import { consoleSuite, projectViewer } from './support/console-suite';

/**
 * A project's brute-force settings and the environment's block list in a real Chromium against a
 * real Manager and Gateway: the operator lowers the project's threshold (the Manager's finding
 * shown on the field it names first), the Gateway then locks a credential after that many wrong
 * passwords, and the operator lifts the block after a confirmation and resets the settings.
 * Every step is checked through the API. Screenshots land in .test-output/console/.
 */
const ENV = 'console-bf';
jest.setTimeout(420_000);

describe('brute-force settings and blocks in the console (Chromium)', () => {
  // The environment's detectors far out of reach: only the project's settings can lock alice.
  const gatewayEnv = { GATEWAY_TRUST_PROXY: 'true', BRUTE_FORCE_PER_CREDENTIAL: '100000', BRUTE_FORCE_PER_ADDRESS: '100000', BRUTE_FORCE_PER_CREDENTIAL_ADDRESS: '0' };
  const suite = consoleSuite({ environment: ENV, gateways: [gatewayEnv] });

  it('changes the project settings with field-level findings, lifts the lock they cause, and resets them', async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'bf-console' });
    await admin.proxies.create(project.id, {
      name: 'guarded',
      basePath: '/bf-guarded',
      upstreamUrl: suite.cluster.echoUrl,
      environments: [ENV],
      policies: [{ type: 'basic-auth', config: {} }],
    });
    await admin.credentials.create(project.id, { username: 'alice', password: 'alice-password', issueApiKey: false });
    const environmentId = ((await admin.call('GET', '/api/v1/environments')) as { id: string; name: string }[]).find((e) => e.name === ENV)!.id;
    const settingsPath = `/api/v1/projects/${project.id}/brute-force-settings`;
    const gateway = suite.cluster.gateways[0].baseUrl;
    let address = 0;
    // Each attempt from an address of its own: the credential detector alone counts.
    const asAlice = (password: string) =>
      fetch(`${gateway}/bf-guarded/hello`, {
        headers: {
          authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`,
          'x-forwarded-for': `10.77.${Math.floor(++address / 250) % 250}.${1 + (address % 250)}`,
        },
      }).then((r) => r.status);
    await eventually(
      () => asAlice('alice-password'),
      (s) => s === 200,
      { what: 'the guarded proxy on the Gateway', timeoutMs: 120_000 },
    );

    const { context, page } = await suite.signedIn();
    const field = (label: string) => page.getByLabel(new RegExp(`^${label}\\s*\\*?$`));
    await page.goto(`${suite.ui}/projects/${project.id}`);
    await page.getByRole('tab', { name: 'Brute force' }).click();
    await page.getByRole('heading', { name: 'Brute-force settings' }).waitFor();
    await page.getByText("This project uses the environment's detectors").waitFor();

    // A first lockout longer than the longest is the Manager's finding, shown on its field; nothing is stored.
    await field('Per credential').fill('3');
    await field('Lockout seconds').fill('600');
    await field('Max lockout seconds').fill('60');
    await page.getByRole('button', { name: 'Save brute-force settings' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not done' }).waitFor();
    // On the field it names: the message in the element the input is described by.
    const lockout = field('Lockout seconds');
    await eventually(
      async () => {
        const describedBy = ((await lockout.getAttribute('aria-describedby')) ?? '').split(' ').filter((id) => id.endsWith('__error'));
        return describedBy.length ? page.locator(`[id="${describedBy[0]}"]`).textContent() : null;
      },
      (text) => text === 'must not exceed maxLockoutSeconds',
      { what: 'the refusal on the Lockout seconds field' },
    );
    await shot(page, '30-brute-force-settings-findings');
    expect(await admin.call('GET', settingsPath)).toBeNull();

    await field('Lockout seconds').fill('60');
    await page.getByRole('button', { name: 'Save brute-force settings' }).click();
    await page.getByRole('button', { name: "Reset to the environment's detectors" }).waitFor();
    expect(await admin.call('GET', settingsPath)).toEqual({ perCredential: 3, lockoutSeconds: 60, maxLockoutSeconds: 60 });
    await shot(page, '31-brute-force-settings');

    // The Gateway applies them: wrong passwords lock alice, then even her right one is refused.
    await eventually(
      () => asAlice('wrong'),
      (s) => s === 429,
      { what: 'alice locked after the project threshold', timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(await asAlice('alice-password')).toBe(429);
    const [block] = (await admin.call('GET', `/api/v1/environments/${environmentId}/blocks`)) as { id: string; credential: string; projectId: string }[];
    expect(block).toMatchObject({ credential: 'alice', projectId: project.id });

    // Lifted in the console, after a confirmation naming who may try again.
    await page.goto(`${suite.ui}/environments/${environmentId}?tab=blocks`);
    await page.getByRole('cell', { name: 'alice', exact: true }).waitFor();
    await shot(page, '32-brute-force-block');
    await page.getByRole('button', { name: 'Unblock alice' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('alice may try again at once on every Gateway').waitFor();
    await dialog.getByRole('button', { name: 'Unblock' }).click();
    await page.getByText('Nobody is blocked').waitFor();
    expect(await admin.call('GET', `/api/v1/environments/${environmentId}/blocks`)).toEqual([]);
    await eventually(
      () => asAlice('alice-password'),
      (s) => s === 200,
      { what: 'alice heard again on the Gateway' },
    );
    const audit = await admin.call('GET', '/api/v1/audit?entityKind=brute-force-block');
    expect(audit.items.map((e: { action: string; entity: { id: string } }) => [e.action, e.entity.id])).toContainEqual(['brute-force-block.lift', block.id]);

    // Reset: asks first, then the environment's detectors apply again.
    await page.goto(`${suite.ui}/projects/${project.id}?tab=brute-force`);
    await page.getByRole('button', { name: "Reset to the environment's detectors" }).click();
    await dialog.getByRole('button', { name: 'Reset' }).click();
    await page.getByText("This project uses the environment's detectors").waitFor();
    expect(await admin.call('GET', settingsPath)).toBeNull();
    expect(await field('Per credential').inputValue()).toBe('');

    expect(await suite.seriousViolationsIn(context, [`/projects/${project.id}?tab=brute-force`])).toEqual([]);
    await context.close();
  });

  it('shows a project viewer the settings without a form', async () => {
    const admin = suite.cluster.admin;
    const project = await admin.projects.create({ name: 'bf-console-viewed' });
    await admin.call('PUT', `/api/v1/projects/${project.id}/brute-force-settings`, { perCredential: 7 });
    await projectViewer(admin, project.id, 'bf-console-viewer', 'bf-console-viewer-password');
    const { context, page } = await suite.signedIn('bf-console-viewer', 'bf-console-viewer-password');
    await page.goto(`${suite.ui}/projects/${project.id}?tab=brute-force`);
    await page.getByText('You may look at these settings but not change them.').waitFor();
    await page.getByRole('row', { name: 'Per credential 7' }).waitFor();
    expect(await page.getByRole('button', { name: 'Save brute-force settings' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: "Reset to the environment's detectors" }).count()).toBe(0);
    await context.close();
  });
});
