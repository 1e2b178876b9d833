// `npm test`: install, make sure PostgreSQL and Redis are there (installing/starting them on a
// fresh Debian machine), build (end-to-end specs run the built apps), lint (ESLint with
// typescript-eslint's type-aware rules, and Prettier's check of the formatting), then run every jest suite serially, because the
// integration suites share PostgreSQL and Redis. Any lint error fails the run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureInstalled, root } from './lib/toolchain.mjs';
import { aptInstall, hasBinary, redisAnswers, startRedisServer, tcpAnswers, waitFor } from './lib/services.mjs';

async function ensurePostgres() {
  if (await tcpAnswers('127.0.0.1', 5432)) return;
  if (!hasBinary('pg_ctlcluster') && !aptInstall(['postgresql'])) throw new Error('PostgreSQL is not running on 127.0.0.1:5432 and could not be installed');
  const versions = spawnSync('ls', ['/etc/postgresql']).stdout.toString().trim().split('\n');
  console.log(`> starting PostgreSQL ${versions[0]}`);
  spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0], 'main', 'start'], { stdio: 'inherit' });
  await waitFor(() => tcpAnswers('127.0.0.1', 5432), { what: 'PostgreSQL', timeoutMs: 30000 });
}

/** Tests need a shared Redis on 6379 and the redis-server binary for the restart scenarios. */
async function ensureRedis() {
  if (!hasBinary('redis-server') && !aptInstall(['redis-server'])) throw new Error('redis-server is missing and could not be installed');
  if (await redisAnswers('127.0.0.1', 6379)) return;
  console.log('> starting redis-server on 6379');
  startRedisServer(6379, { detached: true });
  await waitFor(() => redisAnswers('127.0.0.1', 6379), { what: 'Redis', timeoutMs: 10000 });
}

async function main() {
  ensureInstalled();
  await ensurePostgres();
  await ensureRedis();
  build();
  // Lint after the build: the type-aware rules resolve the workspace packages through their types.
  const eslint = spawnSync(process.execPath, [join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--max-warnings=0', '.'], { cwd: root, stdio: 'inherit' });
  const prettier = spawnSync(process.execPath, [join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '--log-level=warn', '.'], {
    cwd: root,
    stdio: 'inherit',
  });
  const lint = { status: eslint.status === 0 && prettier.status === 0 ? 0 : 1 };
  console.log(lint.status === 0 ? 'lint: clean' : 'lint: FAILED (fix with: npx eslint --fix . && npx prettier --write .)');
  const outDir = join(root, '.test-output');
  mkdirSync(outDir, { recursive: true });
  const report = join(outDir, 'jest.json');
  // --forceExit: a connection some library keeps open past the last test must not hang CI; the
  // suites close what they open, so this only cuts off stragglers.
  const jest = spawnSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      '--disable-warning=ExperimentalWarning',
      join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--runInBand',
      '--forceExit',
      '--json',
      `--outputFile=${report}`,
      ...process.argv.slice(2),
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } },
  );
  try {
    const result = JSON.parse(readFileSync(report, 'utf8'));
    console.log(`jest: ${result.numPassedTests} passed, ${result.numFailedTests} failed`);
  } catch {
    console.log('jest: no report written');
  }
  process.exit(lint.status !== 0 ? 1 : (jest.status ?? 1));
}

main().catch((err) => {
  console.error(`npm test failed: ${err.message}`);
  process.exit(1);
});
