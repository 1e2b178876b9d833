// `npm test`: install, make sure PostgreSQL, Redis, MariaDB and slapd are there (installing/starting them on a
// fresh Debian machine), build (end-to-end specs run the built apps), lint (ESLint with
// typescript-eslint's type-aware rules, Prettier's check of the formatting, tsc over the specs the build skips), then run every jest suite serially, because the
// integration suites share PostgreSQL and Redis. Any lint error fails the run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureInstalled, root } from './lib/toolchain.mjs';
import { typecheck } from './lib/typecheck.mjs';
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

/** The LDAP identity-source specs start their own OpenLDAP (libs/test-kit SlapdProcess) from Debian's slapd and use ldap-utils to seed it. */
function ensureSlapd() {
  if (existsSync('/usr/sbin/slapd') && hasBinary('ldapadd')) return;
  console.log('> installing slapd and ldap-utils (LDAP identity-source tests)');
  if (!aptInstall(['slapd', 'ldap-utils'])) throw new Error('slapd is missing and could not be installed (apt-get install slapd ldap-utils)');
}

/**
 * The SQL identity-source specs use MariaDB on 3306 as root without a password (over TCP), each
 * in a database of its own. A fresh Debian MariaDB lets root in only through the unix socket.
 */
async function ensureMariaDb() {
  if (await tcpAnswers('127.0.0.1', 3306)) return;
  if (!hasBinary('mariadbd') && !aptInstall(['mariadb-server'])) throw new Error('MariaDB is not running on 127.0.0.1:3306 and could not be installed');
  console.log('> starting MariaDB');
  spawnSync('service', ['mariadb', 'start'], { stdio: 'inherit' });
  await waitFor(() => tcpAnswers('127.0.0.1', 3306), { what: 'MariaDB', timeoutMs: 60000 });
  spawnSync('mariadb', ['-e', "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"], { stdio: 'inherit' });
}

/** The console's end-to-end spec drives Debian's Chromium (playwright-core brings no browser). */
function ensureChromium() {
  if (existsSync('/usr/bin/chromium') || process.env.CHROMIUM_PATH) return;
  console.log('> installing chromium (console end-to-end tests)');
  if (!aptInstall(['chromium'])) throw new Error('chromium is missing and could not be installed (apt-get install chromium)');
}

async function main() {
  ensureInstalled();
  await ensurePostgres();
  await ensureRedis();
  ensureChromium();
  ensureSlapd();
  await ensureMariaDb();
  build();
  // Lint after the build: the type-aware rules resolve the workspace packages through their types.
  const eslint = spawnSync(process.execPath, [join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--max-warnings=0', '.'], { cwd: root, stdio: 'inherit' });
  const prettier = spawnSync(process.execPath, [join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '--log-level=warn', '.'], {
    cwd: root,
    stdio: 'inherit',
  });
  const untyped = await typecheck();
  if (untyped.length > 0) console.log(`typecheck: FAILED in ${untyped.join(', ')}`);
  const lint = { status: eslint.status === 0 && prettier.status === 0 && untyped.length === 0 ? 0 : 1 };
  console.log(lint.status === 0 ? 'lint: clean' : 'lint: FAILED (fix with: npx eslint --fix . && npx prettier --write .; type errors: see tsc above)');
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
      // One worker runs the suites one after another (they share PostgreSQL and Redis). Not
      // --runInBand: in band, every suite's module registry stays in jest's own process (NestJS,
      // undici, jose per suite), the heap grows by tens of MB a suite, and a full run can end in
      // an out-of-memory abort with no report. A worker is replaced once it holds more than 1 GB.
      '--maxWorkers=1',
      '--workerIdleMemoryLimit=1GB',
      '--logHeapUsage',
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
