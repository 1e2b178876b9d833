import { eventually } from '@idm/test-kit';
import { shot, sidewaysScroll, tabTo } from './support/console-browser';
import { consoleSuite } from './support/console-suite';

/**
 * Live Gateway status (#18): two real Gateway processes report themselves to the Manager through
 * Redis (never the database); GET /environments/{id}/gateways lists both with the revision they
 * serve against the published one, follows a configuration change, and drops a Gateway that
 * stopped: one killed after its report's lifetime (three beats), one shut down cleanly at once.
 * The console's Environments screen and an environment's Gateways tab show the same in Chromium,
 * by keyboard, at 390 px, axe clean; with Redis gone, the tab says why (the problem's detail).
 * Screenshots land in .test-output/console/.
 */
const ENV = 'console-gateways';
jest.setTimeout(420_000);

interface Listed {
  environment: string;
  publishedRevision: number | null;
  gateways: {
    id: string;
    version: string;
    ready: boolean;
    revision: number | null;
    sync: string;
    behind: number | null;
    startedAt: string;
    lastSeen: string;
    requestsPerSecond: number;
  }[];
}

describe('live Gateway status in the Manager and the console (two Gateways, Chromium)', () => {
  // Beats every 500 ms: a killed Gateway's report is gone 1.5 s later.
  const beat = { GATEWAY_HEARTBEAT_INTERVAL_MS: '500' };
  const suite = consoleSuite({
    environment: ENV,
    gateways: [
      { ...beat, GATEWAY_ID: 'edge-a' },
      { ...beat, GATEWAY_ID: 'edge-b' },
    ],
  });
  let environmentId: string;
  const listed = (): Promise<Listed> => suite.cluster.admin.call('GET', `/api/v1/environments/${environmentId}/gateways`);
  const inSync = (l: Listed, ids: string[]) =>
    l.publishedRevision !== null && l.gateways.map((g) => g.id).join() === ids.join() && l.gateways.every((g) => g.sync === 'in_sync' && g.revision === l.publishedRevision);

  beforeAll(async () => {
    environmentId = ((await suite.cluster.admin.call('GET', '/api/v1/environments')) as { id: string; name: string }[]).find((e) => e.name === ENV)!.id;
  });

  it('lists both Gateways at the published revision, follows a change to both, and counts their traffic', async () => {
    const admin = suite.cluster.admin;
    const first = await eventually(listed, (l) => inSync(l, ['edge-a', 'edge-b']), { what: 'both Gateways reporting the published revision', timeoutMs: 60_000 });
    for (const g of first.gateways) {
      expect(g).toMatchObject({ version: '0.1.0', ready: true, behind: 0 });
      expect(Date.parse(g.lastSeen)).toBeGreaterThanOrEqual(Date.parse(g.startedAt));
    }

    // A change publishes a new revision; both Gateways apply it and say so.
    const project = await admin.projects.create({ name: 'fleet' });
    await admin.proxies.create(project.id, {
      name: 'ping',
      basePath: '/ping',
      upstreamUrl: suite.cluster.echoUrl,
      policies: [{ type: 'api-key', config: {} }],
      environments: [ENV],
    });
    const credential = await admin.credentials.create(project.id, { username: 'pinger' });
    const next = await eventually(listed, (l) => l.publishedRevision! > first.publishedRevision! && inSync(l, ['edge-a', 'edge-b']), {
      what: 'both Gateways at the new revision',
      timeoutMs: 60_000,
    });
    expect(Date.parse(next.gateways[0].lastSeen)).toBeGreaterThan(Date.parse(first.gateways[0].lastSeen));

    // Traffic through edge-a shows as its requests per second (measured between two of its reports).
    const edgeA = suite.cluster.gateways[0].baseUrl;
    await eventually(
      async () => {
        await Promise.all(Array.from({ length: 10 }, () => fetch(`${edgeA}/ping`, { headers: { 'x-api-key': credential.apiKey!.key } }).then((r) => r.arrayBuffer())));
        return (await listed()).gateways.find((g) => g.id === 'edge-a')!.requestsPerSecond;
      },
      (rate) => rate > 0,
      { what: "edge-a's requests per second", timeoutMs: 60_000 },
    );
  });

  it('shows each environment’s Gateways on the Environments screen and the Gateways tab, by keyboard and at 390 px, axe clean', async () => {
    const { context, page } = await suite.signedIn();
    await page.goto(`${suite.ui}/environments`);
    const row = page.getByRole('table', { name: 'Environments' }).getByRole('row').filter({ hasText: ENV });
    await row.getByRole('link', { name: '2 Gateways, all in sync.' }).waitFor();
    await row.getByText(/^\d+ s ago$/).waitFor();
    await shot(page, '40-environments-gateways');

    // By keyboard from the screen's top to the fleet's link, then into the Gateways tab.
    await tabTo(page, '2 Gateways, all in sync.');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Environment ${ENV}` }).waitFor();
    expect(await page.getByRole('tab', { name: 'Gateways' }).getAttribute('aria-selected')).toBe('true');
    const table = page.getByRole('table', { name: `Gateways of ${ENV}` });
    for (const id of ['edge-a', 'edge-b']) {
      const gateway = table.getByRole('row').filter({ hasText: id });
      await gateway.getByText('in sync', { exact: true }).waitFor();
      await gateway.getByText('ready', { exact: true }).waitFor();
    }
    await page.getByText('2 Gateways, all in sync.').waitFor();
    await shot(page, '41-environment-gateways');

    expect(await suite.seriousViolationsIn(context, ['/environments', `/environments/${environmentId}?tab=gateways`])).toEqual([]);
    expect(
      await sidewaysScroll(
        suite.browser,
        suite.ui,
        page,
        [
          ['environments-gateways', '/environments'],
          ['environment-gateways-tab', `/environments/${environmentId}?tab=gateways`],
        ],
        390,
      ),
    ).toEqual([
      ['environments-gateways', 0],
      ['environment-gateways-tab', 0],
    ]);
    await context.close();
  });

  it('drops a killed Gateway once its report expires and one shut down cleanly at once, in the API and on screen; says why when Redis is gone', async () => {
    const [edgeA, edgeB] = suite.cluster.gateways;
    const { context, page } = await suite.signedIn();
    await page.goto(`${suite.ui}/environments/${environmentId}?tab=gateways`);
    const table = page.getByRole('table', { name: `Gateways of ${ENV}` });
    await table.getByRole('row').filter({ hasText: 'edge-b' }).waitFor();

    // Killed: nobody withdraws its report; it expires after three missed beats.
    await edgeB.stop('SIGKILL');
    await eventually(listed, (l) => inSync(l, ['edge-a']), { what: 'the killed edge-b gone, edge-a still listed', timeoutMs: 60_000 });
    await page.getByText('1 Gateway, all in sync.').waitFor();
    await eventually(
      () => table.getByRole('row').filter({ hasText: 'edge-b' }).count(),
      (n) => n === 0,
      { what: 'edge-b gone from the Gateways tab', timeoutMs: 60_000 },
    );
    await shot(page, '42-environment-gateway-gone');

    // Shut down cleanly: it withdraws its report on the way out.
    await edgeA.stop('SIGTERM');
    expect((await listed()).gateways).toEqual([]);
    await page.getByText(`No Gateway is reporting. Start one with GATEWAY_ENVIRONMENT=${ENV}`).waitFor();

    // The heartbeats' Redis gone (the last step: the cluster needs it no more): the tab and the
    // Environments screen say why, in the words of the Manager's 503 problem.
    await suite.cluster.redis.stop();
    const detail = 'the Gateways report to Redis, which is unreachable; they keep serving meanwhile';
    await page.getByRole('alert').filter({ hasText: 'Could not load' }).filter({ hasText: detail }).waitFor({ timeout: 30_000 });
    expect(await page.getByText(/No Gateway is reporting|No Gateway reporting/).count()).toBe(0); // the last answer, no longer known to be true, is gone
    await shot(page, '43-environment-gateways-redis-down');
    await page.goto(`${suite.ui}/environments`);
    await page.getByRole('table', { name: 'Environments' }).getByRole('row').filter({ hasText: ENV }).getByText(detail).waitFor();
    await context.close();
  });
});
