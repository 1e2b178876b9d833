import { AppProcess, eventually, freePort, RedisProcess } from '@idm/test-kit';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh `npm start` on its embedded default (PGlite, no DATABASE_URL, no Elasticsearch) indexes
 * the Gateway's auth records: the Manager hosts the indexer's consumer in its own process, so the
 * demo's calls show in /api/v1/analytics/auth without any other setup.
 */
describe('npm start indexes auth records on embedded PGlite (end to end)', () => {
  let redis: RedisProcess;
  let start: AppProcess;
  let dataDir: string;
  let managerUrl: string;
  let gatewayUrl: string;

  beforeAll(async () => {
    redis = new RedisProcess(await freePort());
    await redis.start();
    dataDir = mkdtempSync(join(tmpdir(), 'idm-start-'));
    const [managerPort, gatewayPort, echoPort] = [await freePort(), await freePort(), await freePort()];
    managerUrl = `http://127.0.0.1:${managerPort}`;
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      IDM_DATA_DIR: dataDir,
      MANAGER_PORT: String(managerPort),
      GATEWAY_PORT: String(gatewayPort),
      ECHO_PORT: String(echoPort),
      LOG_FORMAT: 'json',
    };
    // The embedded default: no server database, no Elasticsearch.
    expect([process.env.DATABASE_URL, process.env.ELASTICSEARCH_URL]).toEqual([undefined, undefined]);
    start = new AppProcess('npm start', 'scripts/start.mjs', env, managerUrl);
    // Install check, turbo build, three boots and the demo seed: over 5 minutes on a loaded machine.
    await start.startUntilOutput(/Identity Manager is running/, 540_000);
  }, 600_000);

  afterAll(async () => {
    await start?.stop();
    await redis?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('shows the demo calls in /api/v1/analytics/auth', async () => {
    const demo = JSON.parse(readFileSync(join(dataDir, 'demo.json'), 'utf8'));
    expect(start.output.join('')).not.toContain('"indexer exited');
    for (const key of [demo.apiKey, demo.apiKey, 'not-the-demo-key']) await fetch(`${gatewayUrl}/demo/hello`, { headers: { 'x-api-key': key } });
    const login = await fetch(`${managerUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(demo.admin),
    }).then((r) => r.json());
    const analytics = await eventually(
      () => fetch(`${managerUrl}/api/v1/analytics/auth?environment=dev`, { headers: { authorization: `Bearer ${login.token}` } }).then((r) => r.json()),
      (a) =>
        a.byOutcome?.find((o: { outcome: string }) => o.outcome === 'denied')?.count >= 1 && a.byOutcome?.find((o: { outcome: string }) => o.outcome === 'success')?.count >= 2,
      { what: 'the demo calls indexed', timeoutMs: 60_000 },
    );
    expect(analytics.source).toBe('postgresql');
    expect(analytics.byProxy.map((p: { proxyName: string }) => p.proxyName)).toContain('demo');
    expect(analytics.byReason.map((r: { reason: string | null }) => r.reason)).toContain('invalid_api_key');
  });

  it('stops on SIGTERM: every app drains and exits, none reported as crashed, exit code 0', async () => {
    // start.mjs gives its apps 10 s before it kills them; it is killed itself only past that.
    expect(await start.stop('SIGTERM', 20_000)).toEqual({ code: 0, signal: null });
    expect(start.output.join('')).not.toMatch(/exited \(.*\); stopping the demo/);
  }, 60_000);
});
