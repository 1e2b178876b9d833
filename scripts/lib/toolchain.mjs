// Brings in pnpm (through npx: corepack's signature check fails against some registries) and
// installs/builds the workspace when needed, so `npm start` and `npm test` work on a fresh clone.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const root = new URL('../..', import.meta.url).pathname;

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status ?? result.signal}`);
  }
}

/**
 * Runs a command with its output held back, shown only when it fails: the install's native
 * module build (argon2's node-gyp) fills a terminal with compiler lines nobody needs to read.
 */
export function runQuiet(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024, ...options });
  if (result.status !== 0) {
    process.stderr.write(result.stdout ?? '');
    process.stderr.write(result.stderr ?? '');
    throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status ?? result.signal ?? result.error?.message} (its output is above)`);
  }
}

export function pnpm(args, { quiet = false } = {}) {
  (quiet ? runQuiet : run)('npx', ['-y', 'pnpm@9', ...args], { env: { ...process.env, npm_config_yes: 'true' } });
}

/** Installs from the lockfile when node_modules is missing or older than the lockfile. */
export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  const lock = join(root, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('> installing dependencies (pnpm, frozen lockfile; its output is shown only if it fails)');
  pnpm(['install', '--frozen-lockfile'], { quiet: true });
}

/** turbo looks for the workspace's package manager on PATH; the pinned pnpm devDependency is it. */
export function build() {
  console.log('> building (turbo)');
  const bin = join(root, 'node_modules', '.bin');
  run(join(bin, 'turbo'), ['run', 'build', '--output-logs=errors-only'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
}
