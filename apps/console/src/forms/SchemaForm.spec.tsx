/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { SchemaForm } from './SchemaForm';

// The Manager's own findings (which the schema cannot express) show on the field they name.
describe('a generated form', () => {
  const schema = {
    type: 'object',
    properties: { time: { type: 'object', properties: { mode: { type: 'string', enum: ['allow', 'restrict'] }, timeZone: { type: 'string' } }, required: ['mode'] } },
  };

  it("shows the server's finding under its field", () => {
    const view = render(<SchemaForm idPrefix="rules" schema={schema} value={{ time: { mode: 'allow', timeZone: 'Mars/Olympus' } }} onChange={() => undefined} />);
    view.rerender(
      <SchemaForm
        idPrefix="rules"
        schema={schema}
        value={{ time: { mode: 'allow', timeZone: 'Mars/Olympus' } }}
        onChange={() => undefined}
        serverErrors={{ time: { timeZone: { __errors: ['must be an IANA time zone'] } } }}
      />,
    );
    const field = document.getElementById('rules_time_timeZone')!.closest('.form-group')!;
    expect(field.textContent).toContain('must be an IANA time zone');
    expect(screen.getAllByText('must be an IANA time zone')).toHaveLength(1);
  });
});

describe("a credential ACL's proxies", () => {
  const PROJECT = '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a99';
  const proxies = [
    { id: '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a01', name: 'orders', basePath: '/orders' },
    { id: '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a02', name: 'billing', basePath: '/billing' },
  ];
  const gone = '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a03';
  // As the Manager's OpenAPI document says the credential's `access.acl`.
  const proxyIds = { default: null, anyOf: [{ type: 'array', maxItems: 1000, items: { type: 'string', format: 'uuid' } }, { type: 'null' }] };
  const schema = {
    type: 'object',
    properties: { acl: { type: 'object', properties: { allowedProxies: proxyIds, deniedProxies: { type: 'array', default: [], items: { type: 'string', format: 'uuid' } } } } },
  };

  it('are picked by name among the project proxies, ids kept in the value; a deleted one stays listed', async () => {
    const changes: Record<string, unknown>[] = [];
    renderWithCache(
      <SchemaForm idPrefix="rules" schema={schema} value={{ acl: { allowedProxies: [proxies[0].id, gone], deniedProxies: [] } }} onChange={(v) => changes.push(v)} />,
      [[['proxies', PROJECT], proxies]],
      { route: '/projects/:projectId', path: `/projects/${PROJECT}` },
    );
    const allowed = screen.getByLabelText('Allowed proxies', { selector: 'input' });
    expect(screen.getAllByText('Allowed proxies')).toHaveLength(1); // labelled once, by the picker
    // The chosen ones show by name (a deleted proxy by its id), not as text fields of ids.
    const pills = allowed.closest('.mantine-MultiSelect-root')!;
    expect(within(pills as HTMLElement).getByText('orders (/orders)')).toBeTruthy();
    expect(within(pills as HTMLElement).getByText(`${gone} (deleted)`)).toBeTruthy();
    expect(document.querySelector('input[id^="rules_acl_allowedProxies_"]')).toBeNull();
    fireEvent.click(screen.getByLabelText('Denied proxies', { selector: 'input' }));
    fireEvent.click(screen.getByRole('option', { name: 'billing (/billing)' }));
    // The form reports the change once its state settled.
    await waitFor(() => expect((changes.at(-1)?.acl as Record<string, unknown> | undefined)?.deniedProxies).toEqual([proxies[1].id]));
    expect(screen.getByText(/None chosen: every proxy of the project/)).toBeTruthy();
  });
});
