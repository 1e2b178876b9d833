// The type check of everything the build does not compile: jest runs specs through swc, which
// strips types without checking them, and each package's build excludes its specs. So every
// tsconfig.json of the workspace (src with its specs, apps/*/test, deploy) is checked here, as
// part of `npm test`'s lint step: a spec that passes a wrong shape fails here, not in production.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './toolchain.mjs';

/** Every tsconfig.json under apps/*, apps/*\/test, libs/* and deploy/. */
export function typecheckProjects() {
  const projects = [];
  for (const group of ['apps', 'libs']) {
    for (const name of readdirSync(join(root, group))) {
      for (const dir of [join(group, name), join(group, name, 'test')]) if (existsSync(join(root, dir, 'tsconfig.json'))) projects.push(dir);
    }
  }
  if (existsSync(join(root, 'deploy', 'tsconfig.json'))) projects.push('deploy');
  return projects;
}

/** Checks each project with tsc --noEmit, as many at once as there are cores; returns the ones that failed (tsc prints their errors). */
export async function typecheck() {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const queue = typecheckProjects();
  const failed = [];
  const check = (dir) =>
    new Promise((done) => {
      const child = spawn(process.execPath, [tsc, '--noEmit', '--pretty', 'false', '-p', join(dir, 'tsconfig.json')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.on('close', (code) => {
        // One project's errors printed together, not interleaved with another's.
        if (out) process.stdout.write(out);
        if (code !== 0) failed.push(dir);
        done();
      });
    });
  const worker = async () => {
    for (let dir = queue.shift(); dir !== undefined; dir = queue.shift()) await check(dir);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(2, availableParallelism())) }, worker));
  return failed.sort();
}
