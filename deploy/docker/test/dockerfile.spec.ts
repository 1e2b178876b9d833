import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECOMMENDED_NODE_FLAGS } from '../../../apps/gateway/src/config/node-flags';

/**
 * Docker is not installed where the tests run: these read deploy/docker/Dockerfile and
 * .dockerignore and check what the image promises (pruned production install, non-root, the
 * Gateway's node flags, the paths the Helm chart starts).
 */
const root = join(__dirname, '..', '..', '..');
const dockerfile = readFileSync(join(root, 'deploy', 'docker', 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

type Stage = { name: string; from: string; instructions: { op: string; args: string }[] };

function stages(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (op === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      result.push({ name, from, instructions: [] });
    } else if (result.length) result[result.length - 1].instructions.push({ op, args });
  }
  return result;
}

/** Instructions in effect for a stage: its own after those of the stages it is built FROM. */
function effective(all: Stage[], name: string): { op: string; args: string }[] {
  const stage = all.find((s) => s.name === name)!;
  const parent = all.find((s) => s.name === stage.from);
  return [...(parent ? effective(all, parent.name) : []), ...stage.instructions];
}

const last = (instructions: { op: string; args: string }[], op: string) => instructions.filter((i) => i.op === op).pop()?.args;
const cmdOf = (name: string) => JSON.parse(last(effective(stages(dockerfile), name), 'CMD')!);

/** The chart's command for a plane (one image, both planes). */
function chartCommand(plane: string): string[] {
  const template = readFileSync(join(root, 'deploy', 'helm', 'identity-manager', 'templates', `${plane}-deployment.yaml`), 'utf8');
  return JSON.parse(/command: (\[.*\])/.exec(template)![1]);
}

/** .dockerignore patterns as used here: `**\/x` anywhere, `x` at the root, `*` within a name. */
function ignored(path: string): boolean {
  return dockerignore.some((pattern) => {
    const body = pattern
      .replace(/^\*\*\//, '')
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
    const anywhere = pattern.startsWith('**/');
    return new RegExp(`^${anywhere ? '(.*/)?' : ''}${body}(/.*)?$`).test(path);
  });
}

describe('deploy/docker/Dockerfile', () => {
  const all = stages(dockerfile);

  it('builds in one stage and runs manager and gateway stages from a pruned production install', () => {
    expect(all.map((s) => s.name)).toEqual(['build', 'runtime', 'manager', 'gateway']);
    const build = all[0].instructions.map((i) => i.args).join('\n');
    expect(build).toMatch(/pnpm install --offline --frozen-lockfile/);
    expect(build).toMatch(/pnpm --filter @idm\/manager --prod deploy \/out\/apps\/manager/);
    expect(build).toMatch(/pnpm --filter @idm\/gateway --prod deploy \/out\/apps\/gateway/);
    // The runtime gets the deploy output only: not the build tree with its dev dependencies.
    expect(
      effective(all, 'gateway')
        .filter((i) => i.op === 'COPY')
        .map((i) => i.args),
    ).toEqual(['--from=build /out /app']);
  });

  it("copies the patched dependencies' patches before the first install step", () => {
    const patches = Object.values<string>(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).pnpm?.patchedDependencies ?? {});
    expect(patches.length).toBeGreaterThan(0);
    const build = all[0].instructions;
    const fetch = build.findIndex((i) => i.op === 'RUN' && i.args.startsWith('pnpm fetch'));
    const copied = build
      .slice(0, fetch)
      .flatMap((i) => (i.op === 'COPY' ? [i.args.split(/\s+/).slice(0, -1)] : []))
      .flat();
    for (const patch of patches) {
      expect(copied.some((source) => patch === source || patch.startsWith(`${source.replace(/\/$/, '')}/`))).toBe(true);
      expect(ignored(patch)).toBe(false);
    }
  });

  it.each(['manager', 'gateway'])('runs the %s as a non-root user', (stage) => {
    expect(last(effective(all, stage), 'USER')).toBe('node');
  });

  it('starts the Gateway with its recommended node flags, in the image and in the chart', () => {
    for (const flag of RECOMMENDED_NODE_FLAGS) {
      expect(cmdOf('gateway')).toContain(flag);
      expect(chartCommand('gateway')).toContain(flag);
    }
  });

  it.each(['manager', 'gateway'])('the chart starts the %s where the image puts it', (plane) => {
    const main = JSON.parse(readFileSync(join(root, 'apps', plane, 'package.json'), 'utf8')).main;
    expect(chartCommand(plane)).toEqual(cmdOf(plane));
    expect(cmdOf(plane).at(-1)).toBe(`apps/${plane}/${main}`);
  });

  it('.dockerignore keeps installs, builds and local state out, and everything the build needs in', () => {
    for (const out of ['node_modules', 'apps/gateway/node_modules', 'libs/domain/dist', '.git', '.data', '.test-output', '.env']) expect(ignored(out)).toBe(true);
    for (const needed of [
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'package.json',
      'turbo.json',
      'tsconfig.base.json',
      'apps/manager/migrations/0000.sql',
      'apps/gateway/src/main.ts',
      'libs/domain/package.json',
    ]) {
      expect(ignored(needed)).toBe(false);
    }
  });
});
