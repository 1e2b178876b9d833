import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANAGER_VARIABLES } from './manager-config';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('Manager README', () => {
  it('lists every variable the Manager reads in its configuration table, nothing else', () => {
    const section = README.slice(README.indexOf('## Configuration\n'));
    const firstCells = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split(' | ')[0]);
    const documented = firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    expect(documented.sort()).toEqual([...MANAGER_VARIABLES].sort());
  });
});
