import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');

/**
 * Loads one entry point of this lib from its sources in a fresh node process (swc strips the
 * types; `@idm/<lib>[/<entry>]` maps to `libs/<lib>/src/<entry>`, as in jest) and lists every
 * module file it pulled in, from require.cache.
 */
function modulesLoadedBy(entry: string): string[] {
  const script = `
    const Module = require('node:module');
    const { readFileSync } = require('node:fs');
    const { join } = require('node:path');
    const { transformSync } = require('@swc/core');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      const lib = /^@idm\\/([a-z-]+)(?:\\/([a-z-]+))?$/.exec(request);
      return resolve.call(this, lib ? join(process.cwd(), 'libs', lib[1], 'src', lib[2] ?? 'index') : request, ...rest);
    };
    require.extensions['.ts'] = (module, filename) => {
      const options = { filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } };
      module._compile(transformSync(readFileSync(filename, 'utf8'), options).code, filename);
    };
    require(process.argv[1]);
    process.stdout.write(JSON.stringify(Object.keys(require.cache)));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script, entry], { cwd: ROOT, encoding: 'utf8' })) as string[];
}

/** What only a Gateway needs: password hashing, Redis clients, the geo database and its reader. */
const GATEWAY_RUNTIME = /[\\/]node_modules[\\/](argon2|ioredis|maxmind|@ip-location-db)[\\/]|[\\/]credential-rules[\\/]country-lookup\.ts$/;

describe('@idm/policies/schemas', () => {
  it('validates policy specs without loading the Gateway runtime', () => {
    const loaded = modulesLoadedBy('@idm/policies/schemas');
    expect(loaded.some((file) => file.endsWith(join('src', 'validate-policy-specs.ts')))).toBe(true);
    expect(loaded.filter((file) => GATEWAY_RUNTIME.test(file))).toEqual([]);
  });

  it('is what sets it apart: the full entry point loads that runtime', () => {
    const loaded = modulesLoadedBy('@idm/policies');
    expect(loaded.filter((file) => GATEWAY_RUNTIME.test(file)).length).toBeGreaterThan(0);
  });
});
