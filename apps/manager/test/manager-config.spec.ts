import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseManagerConfig } from '../src/config/manager-config';
import { REPO_ROOT } from '@idm/test-kit';

describe('Manager configuration', () => {
  it('applies the documented defaults', () => {
    const config = parseManagerConfig({ IDM_ADMIN_PASSWORD: 'long-enough-password' });
    expect(config).toMatchObject({ MANAGER_PORT: 8080, REDIS_URL: 'redis://127.0.0.1:6379', IDM_ADMIN_USERNAME: 'admin', IDM_DATA_DIR: './.data' });
    expect(config.DATABASE_URL).toBeUndefined(); // = embedded PGlite
  });

  it('refuses to boot, naming every bad variable at once', async () => {
    const run = promisify(execFile);
    const failure = await run(process.execPath, [join(REPO_ROOT, 'apps/manager/dist/main.js')], {
      env: { PATH: process.env.PATH, MANAGER_PORT: 'eighty', DATABASE_URL: 'mysql://nope', IDM_ADMIN_PASSWORD: 'short' },
    }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(1);
    for (const name of ['MANAGER_PORT', 'DATABASE_URL', 'IDM_ADMIN_PASSWORD']) expect(failure!.stderr).toContain(name);
    expect(failure!.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});
