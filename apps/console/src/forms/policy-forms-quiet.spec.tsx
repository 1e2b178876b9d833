/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { policyJsonSchemas, policySchemas } from '@idm/policies/schemas';
import { cleanup } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { PolicyChainEditor } from './PolicyChainEditor';

// The real schemas the Manager serves at GET /api/v1/policy-types.
const policyTypes = policyJsonSchemas();

/**
 * Every policy type's form renders with nothing said on the console: a warning from the form
 * library (a default outside its enum, an unknown format) is a schema the form misreads.
 */
describe.each(policyTypes.map((t) => t.type))('the %s form', (type) => {
  let said: unknown[][];
  const original = { error: console.error, warn: console.warn };
  beforeEach(() => {
    said = [];
    console.error = (...args: unknown[]) => void said.push(['error', ...args]);
    console.warn = (...args: unknown[]) => void said.push(['warn', ...args]);
  });
  afterEach(() => {
    cleanup();
    console.error = original.error;
    console.warn = original.warn;
  });

  // New, and as the Manager stores it (every default filled in, nulls included) where the empty config is valid.
  const stored = (policySchemas as Record<string, { safeParse: (v: unknown) => { success: boolean; data?: unknown } }>)[type].safeParse({});
  const configs: [string, Record<string, unknown>][] = [
    ['new', {}],
    ...(stored.success ? [['stored', stored.data as Record<string, unknown>] as [string, Record<string, unknown>]] : []),
  ];

  it.each(configs)('renders (%s) without a console error or warning', (_, config) => {
    renderWithCache(<PolicyChainEditor policyTypes={policyTypes} value={[{ type, config }]} serverIssues={[]} onChange={() => undefined} />, [[['key-managers'], []]]);
    expect(document.querySelector('form')).not.toBeNull();
    expect(said.map((args) => args.map(String).join(' ').slice(0, 300))).toEqual([]);
  });
});
