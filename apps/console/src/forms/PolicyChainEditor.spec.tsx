/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { policyJsonSchemas } from '@idm/policies/schemas';
import { fireEvent, screen, within } from '@testing-library/react';
import { useState } from 'react';
import type { PolicySpec } from '../api/types';
import { renderWithCache } from '../../test/render';
import { PolicyChainEditor } from './PolicyChainEditor';
import type { FieldIssue } from './server-errors';

// The real schemas the Manager serves at GET /api/v1/policy-types.
const policyTypes = policyJsonSchemas();

function Harness({ initial, issues = [], readOnly = false, onChange }: { initial: PolicySpec[]; issues?: FieldIssue[]; readOnly?: boolean; onChange?: (p: PolicySpec[]) => void }) {
  const [value, setValue] = useState(initial);
  return (
    <PolicyChainEditor
      policyTypes={policyTypes}
      value={value}
      serverIssues={issues}
      readOnly={readOnly}
      onChange={(next) => {
        setValue(next);
        onChange?.(next);
      }}
    />
  );
}

describe('the policy chain editor (forms generated from each policy JSON Schema)', () => {
  it('renders a form field for each setting of the policy schema, filled with the current config', () => {
    renderWithCache(<Harness initial={[{ type: 'api-key', config: { header: 'x-client-key' } }]} />);
    const card = screen.getByLabelText('Policy 1: api-key');
    const properties = Object.keys((policyTypes.find((t) => t.type === 'api-key')!.schema.properties ?? {}) as object);
    expect(properties.length).toBeGreaterThan(0);
    for (const property of properties) expect(card.querySelector(`[id^="policy-0_${property}"]`)).not.toBeNull();
    expect(within(card).getByDisplayValue('x-client-key')).toBeTruthy();
    // Labelled by the schema's title, described by its description: not by the property name.
    const header = within(card).getByLabelText(/^Header/) as HTMLInputElement;
    expect(header.value).toBe('x-client-key');
    expect(within(card).getByText('Request header that carries the key')).toBeTruthy();
    expect(within(card).queryByText('stripCredential')).toBeNull();
    expect(within(card).getByLabelText(/^Remove the key before the upstream/)).toBeTruthy();
  });

  it('carries the schema bounds into the inputs, and shows the Manager error on its field', () => {
    renderWithCache(
      <Harness
        initial={[{ type: 'rate-limit', config: { limits: [{ limit: 0, windowSeconds: 60 }] } }]}
        issues={[{ path: 'policies.0.config.keyBy', message: 'the Manager refused: ip needs a trusted proxy setting' }]}
      />,
    );
    const limit = document.querySelector<HTMLInputElement>('#policy-0_limits_0_limit')!;
    expect([limit.type, limit.min, limit.max, limit.required]).toEqual(['number', '1', '1000000000', true]);
    const keyByField = document.querySelector('#policy-0_keyBy')!.closest('.form-group')!;
    expect(within(keyByField as HTMLElement).getByText(/^Counted per/)).toBeTruthy();
    expect(within(keyByField as HTMLElement).getByText(/ip needs a trusted proxy setting/)).toBeTruthy();
  });

  it('leaves an optional setting without a default absent (jwt-auth tokenService), and picks key managers by name', () => {
    const changes: PolicySpec[][] = [];
    const keyManagers = [
      { id: '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a01', name: 'partner', projectId: null, enabled: true },
      { id: '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a02', name: 'elsewhere', projectId: '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a99', enabled: true },
    ];
    renderWithCache(<Harness initial={[{ type: 'jwt-auth', config: {} }]} onChange={(p) => changes.push(p)} />, [[['key-managers'], keyManagers]]);
    const card = screen.getByLabelText('Policy 1: jwt-auth');
    fireEvent.click(within(card).getByLabelText('Strip authorization'));
    const config = changes.at(-1)![0].config;
    expect(config.tokenService).toBeUndefined();
    expect(config.keyManagers).toEqual([]);
    expect(config.dpop).toMatchObject({ requireNonce: false });
    // Every chooser between a setting's variants is labelled (axe: select-name).
    expect(card.querySelectorAll('select[id$="_anyof_select"]').length).toBeGreaterThan(0);
    for (const select of card.querySelectorAll('select[id$="_anyof_select"]')) expect(within(card).getByLabelText(/: variant$/, { selector: `#${select.id}` })).toBe(select);
    // The System key manager is offered by name; another project's is not (this route has no project).
    const picker = within(card).getByLabelText('Key managers', { selector: 'input' });
    fireEvent.click(picker);
    expect(screen.getByRole('option', { name: 'partner (System)' })).toBeTruthy();
    expect(screen.queryByRole('option', { name: /elsewhere/ })).toBeNull();
  });

  it('adds, reorders and removes policies in the order the Gateway runs them', () => {
    const changes: PolicySpec[][] = [];
    renderWithCache(
      <Harness
        initial={[
          { type: 'api-key', config: {} },
          { type: 'rate-limit', config: {} },
        ]}
        onChange={(p) => changes.push(p)}
      />,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Move rate-limit up' }));
    expect(changes.at(-1)?.map((p) => p.type)).toEqual(['rate-limit', 'api-key']);
    fireEvent.click(screen.getAllByRole('button', { name: 'Remove' })[0]);
    expect(changes.at(-1)?.map((p) => p.type)).toEqual(['api-key']);
  });

  it('offers no editing to an operator who may only read', () => {
    renderWithCache(<Harness initial={[{ type: 'api-key', config: {} }]} readOnly />);
    expect(screen.queryByRole('button', { name: 'Remove' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Add policy' })).toBeNull();
    expect(document.querySelector('fieldset')?.disabled).toBe(true);
  });
});
