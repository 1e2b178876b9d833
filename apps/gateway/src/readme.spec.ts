import { REJECTION_REASONS } from '@idm/policies';
import { policyJsonSchemas } from '@idm/policies/schemas';
import { GATEWAY_VARIABLES } from './config/gateway-config';
import { GATEWAY_ERRORS } from './http/gateway-errors';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

/** The lines of the README section under `heading`, up to the next `## `. */
function section(heading: string): string[] {
  const lines = README.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README has no "${heading}"`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Table rows of a section as their cells (header and separator rows left out). */
function tableRows(lines: string[]): string[][] {
  return lines
    .filter((line) => line.startsWith('|') && !line.startsWith('|---'))
    .slice(1)
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
}

describe('Gateway README', () => {
  it('lists every variable the Gateway reads in its configuration table, nothing else', () => {
    const documented = tableRows(section('## Configuration')).flatMap(([variables]) => [...variables.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    expect(documented.sort()).toEqual([...GATEWAY_VARIABLES].sort());
  });

  it('lists every PolicyRejection code with the status and meaning of REJECTION_REASONS, nothing else', () => {
    const documented = Object.fromEntries(
      tableRows(section('## Reason codes of the policy chain')).map(([code, status, meaning]) => [code.replace(/`/g, ''), { statuses: status.split(' / ').map(Number), meaning }]),
    );
    expect(documented).toEqual(REJECTION_REASONS);
  });

  it("lists every code of the Gateway's own answers with the status and meaning of GATEWAY_ERRORS, nothing else", () => {
    const documented = Object.fromEntries(
      tableRows(section('## Reason codes of the Gateway itself')).map(([code, status, meaning]) => [
        code.replace(/`/g, ''),
        { statuses: status.split(' / ').map(Number), meaning },
      ]),
    );
    expect(documented).toEqual(GATEWAY_ERRORS);
  });

  it("the repository README's policy table names every policy type, nothing else", () => {
    const root = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8').split('\n');
    const start = root.indexOf('## Gateway policies');
    const end = root.findIndex((line, i) => i > start && line.startsWith('## '));
    const listed = tableRows(root.slice(start + 1, end)).map(([policy]) => policy.replace(/`/g, ''));
    expect(listed.sort()).toEqual(
      policyJsonSchemas()
        .map((p) => p.type)
        .sort(),
    );
  });

  it('names in the credential-rules table only codes of the table, with their status', () => {
    const claims: [string, number][] = [];
    for (const [, cell] of tableRows(section('## Credential rules (authorization after authentication)'))) {
      let status = 0;
      for (const [, number, code] of cell.matchAll(/(\d{3})|`([a-z_]+)`/g)) {
        if (number) status = Number(number);
        else claims.push([code, status]);
      }
    }
    expect(claims.length).toBeGreaterThan(0);
    for (const [code, status] of claims)
      expect([code, (REJECTION_REASONS as Record<string, { statuses: readonly number[] }>)[code]?.statuses.includes(status)]).toEqual([code, true]);
  });
});
