import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { restoreFastStringPrototype } from './fast-string-prototype';

/**
 * Asks V8 itself (natives syntax, only in a child process) whether String.prototype has its fast
 * layout after loading ioredis, before and after the fix. If the first answer ever turns true,
 * ioredis stopped subclassing String and the workaround can go.
 */
function layoutAfterLoadingIoredis(fix: string): { before: boolean; after: boolean } {
  const script = `require('ioredis');
const before = %HasFastProperties(String.prototype);
(${fix})();
process.stdout.write(JSON.stringify({ before, after: %HasFastProperties(String.prototype) }));`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script], { cwd: join(__dirname, '..'), encoding: 'utf8' });
  return JSON.parse(out) as { before: boolean; after: boolean };
}

describe('restoreFastStringPrototype', () => {
  it('puts String.prototype back into its fast layout after ioredis made it slow', () => {
    expect(layoutAfterLoadingIoredis(restoreFastStringPrototype.toString())).toEqual({ before: false, after: true });
  });

  it('is needed: without it the layout stays slow', () => {
    expect(layoutAfterLoadingIoredis('() => {}')).toEqual({ before: false, after: false });
  });
});
