import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { REPO_ROOT } from '@idm/test-kit';

/**
 * `npm start`'s terminal output (scripts/lib): readable log lines on a terminal, the apps' JSON
 * when piped or asked for, and the dependency install's output only when the install fails.
 */
const logFormat = join(REPO_ROOT, 'scripts/lib/log-format.mjs');
const toolchain = join(REPO_ROOT, 'scripts/lib/toolchain.mjs');

/** Runs an ES module snippet in a child node (the scripts are plain ESM, outside the jest tree). */
const esm = (code: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, ...env } });

function pinoLine(write: (log: pino.Logger) => void): string {
  let line = '';
  const log = pino({ base: { app: 'manager' }, timestamp: pino.stdTimeFunctions.isoTime }, new Writable({ write: (chunk, _e, done) => ((line = String(chunk).trim()), done()) }));
  write(log);
  return line;
}

describe('npm start output', () => {
  it('turns a pino JSON line into a readable one, and leaves other lines alone', () => {
    const info = pinoLine((log) => log.info({ context: 'ConfigPublisher', environment: 'dev', revision: 3 }, 'published dev revision 3'));
    const error = pinoLine((log) => log.error({ err: new Error('connect ECONNREFUSED') }, 'Redis connection error'));
    const out = esm(`import { prettyLine } from ${JSON.stringify(logFormat)};
      for (const line of ${JSON.stringify([info, error, 'plain text line'])}) console.log(prettyLine(line, 'manager'));`);
    const [first, second] = out.stdout.split('\n');
    expect(first).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}manager {2}\[ConfigPublisher\] published dev revision 3 environment=dev revision=3$/);
    expect(second).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR manager {2}Redis connection error: connect ECONNREFUSED$/);
    expect(out.stdout).toMatch(/^\s+at /m); // the error's stack, indented under it
    expect(out.stdout).toContain('\nplain text line\n');
    expect(out.stdout).not.toContain('{"level"');
  });

  it('is readable on a terminal and JSON when piped, unless LOG_FORMAT says otherwise', () => {
    const decide = (env: Record<string, string>, isTTY: boolean) =>
      esm(`import { logFormat } from ${JSON.stringify(logFormat)}; console.log(logFormat(${JSON.stringify(env)}, { isTTY: ${isTTY} }));`).stdout.trim();
    expect(decide({}, true)).toBe('pretty');
    expect(decide({}, false)).toBe('json');
    expect(decide({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(decide({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });

  it('holds back a command output unless the command fails', () => {
    const quiet = (script: string) =>
      esm(`import { runQuiet } from ${JSON.stringify(toolchain)};
        try { runQuiet(process.execPath, ['-e', ${JSON.stringify(script)}]); console.log('ok'); } catch (err) { console.log('failed: ' + err.message); }`);
    const success = quiet("console.log('gyp info it worked'); console.error('gyp warn noise')");
    expect(success.stdout.trim()).toBe('ok');
    expect(success.stderr).toBe('');
    const failure = quiet("console.log('gyp info building'); console.error('gyp ERR! build error'); process.exit(3)");
    expect(failure.stdout).toMatch(/failed: .* failed with exit code 3 \(its output is above\)/);
    expect(failure.stderr).toContain('gyp info building');
    expect(failure.stderr).toContain('gyp ERR! build error');
  });
});
