import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(__dirname, '..');
const SCHEMA = join(SRC, 'database', 'schema');
/** Where queries may be written: the repositories, the database itself, and the publication read model. */
const QUERY_FOLDERS = ['repositories', 'database', 'config-publisher'];

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });

/** The drizzle query builders or schema tables a file imports (static, dynamic or require). */
function queryImports(file: string): string[] {
  const specifiers = [...readFileSync(file, 'utf8').matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
  return specifiers.filter((s) => s === 'drizzle-orm' || s.startsWith('drizzle-orm/') || (s.startsWith('.') && resolve(dirname(file), s).replace(/\.ts$/, '') === SCHEMA));
}

describe('Manager data access', () => {
  const files = sourceFiles(SRC).map((file) => ({ path: relative(SRC, file).split('\\').join('/'), imports: queryImports(file) }));

  it('is written only in repositories/, database/ and config-publisher/', () => {
    const offenders = files.filter((f) => f.imports.length > 0 && !QUERY_FOLDERS.includes(f.path.split('/')[0])).map((f) => `${f.path} imports ${f.imports.join(', ')}`);
    expect(offenders).toEqual([]);
  });

  it('recognises the imports it forbids (the check above is not vacuous)', () => {
    const imports = (path: string) => files.find((f) => f.path === path)?.imports;
    expect(imports('repositories/credential.repository.ts')).toEqual(expect.arrayContaining(['drizzle-orm', '../database/schema']));
    expect(imports('repositories/entity.repository.ts')).toEqual(expect.arrayContaining(['drizzle-orm/pg-core']));
  });
});
