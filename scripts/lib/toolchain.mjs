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

export function pnpm(args) {
  run('npx', ['-y', 'pnpm@9', ...args], { env: { ...process.env, npm_config_yes: 'true' } });
}

/** Installs from the lockfile when node_modules is missing or older than the lockfile. */
export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  const lock = join(root, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('> installing dependencies (pnpm, frozen lockfile)');
  pnpm(['install', '--frozen-lockfile']);
}

/** turbo looks for the workspace's package manager on PATH; the pinned pnpm devDependency is it. */
export function build() {
  console.log('> building (turbo)');
  const bin = join(root, 'node_modules', '.bin');
  run(join(bin, 'turbo'), ['run', 'build', '--output-logs=errors-only'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
}
