import { AppProcess, freePort, REPO_ROOT } from '@idm/test-kit';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/**
 * Docker is not installed where the tests run, so this runs what the image's build stage runs
 * after `pnpm run build` (the Dockerfile's own commands, `/out` replaced by a temporary
 * directory), then boots each plane from that pruned production install alone: a dependency that
 * cannot be deployed (a broken published manifest) or that a plane needs but does not declare
 * fails here, not at `docker build` or in a cluster.
 */
const dockerfile = readFileSync(join(REPO_ROOT, 'deploy', 'docker', 'Dockerfile'), 'utf8');

/** The build stage's commands after the build itself: the deploy and the copies into /out. */
function deployCommands(): string[] {
  const run = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .find((line) => line.startsWith('RUN pnpm install'))!;
  return run
    .slice('RUN '.length)
    .split('&&')
    .map((c) => c.trim())
    .filter((c) => !c.startsWith('pnpm install') && !c.startsWith('pnpm run build'));
}

describe('the image content: a pruned production install of each plane', () => {
  const out = mkdtempSync(join(tmpdir(), 'idm-image-'));
  const processes: AppProcess[] = [];

  beforeAll(() => {
    for (const command of deployCommands()) {
      // pnpm as the repository pins it, from the store the test command's install filled. Not
      // --offline: a frozen-lockfile install into a filled store writes no registry metadata,
      // and deploy resolves the workspace packages' dependencies again (ERR_PNPM_NO_OFFLINE_META
      // on a machine whose metadata cache is empty); what is cached is still not fetched.
      const line = command.replaceAll('/out', out).replace(/^pnpm (.*) deploy /, 'npx -y pnpm@9 $1 --prefer-offline deploy ');
      execFileSync('sh', ['-c', line], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 300_000 });
    }
  }, 600_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(out, { recursive: true, force: true });
  });

  it('holds built apps and production dependencies only', () => {
    for (const plane of ['manager', 'gateway']) {
      expect(existsSync(join(out, 'apps', plane, 'dist', 'main.js'))).toBe(true);
      expect(existsSync(join(out, 'apps', plane, 'src'))).toBe(false);
      expect(existsSync(join(out, 'apps', plane, 'node_modules', 'jest'))).toBe(false);
    }
  });

  it('boots the Manager on the embedded database, logs the admin in and serves the console', async () => {
    const port = await freePort();
    const manager = new AppProcess(
      'image-manager',
      relative(REPO_ROOT, join(out, 'apps/manager/dist/main.js')),
      {
        MANAGER_PORT: String(port),
        MANAGER_HOST: '127.0.0.1',
        IDM_DATA_DIR: join(out, 'data'),
        IDM_ADMIN_PASSWORD: 'image-admin-password',
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        LOG_LEVEL: 'warn',
      },
      `http://127.0.0.1:${port}`,
    );
    processes.push(manager);
    await manager.start('/health/ready', 180_000);
    const login = await fetch(`${manager.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'image-admin-password' }),
    });
    expect(login.status).toBe(200); // argon2's native binding is in the image
    const ui = await fetch(`${manager.baseUrl}/ui/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('<div id="root">');
  }, 240_000);

  it('boots the Gateway with its production flags', async () => {
    const port = await freePort();
    const gateway = new AppProcess(
      'image-gateway',
      relative(REPO_ROOT, join(out, 'apps/gateway/dist/main.js')),
      {
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_ENVIRONMENT: `image-${process.pid}`,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        LOG_LEVEL: 'warn',
      },
      `http://127.0.0.1:${port}`,
      ['--no-memory-reducer'],
    );
    processes.push(gateway);
    await gateway.start('/health/live', 180_000);
    // No environment published: alive, not ready, and says why.
    expect((await fetch(`${gateway.baseUrl}/health/ready`)).status).toBe(503);
  }, 240_000);
});
