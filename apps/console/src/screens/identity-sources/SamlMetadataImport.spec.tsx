/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { fireEvent, screen, within } from '@testing-library/react';
import { renderWithCache } from '../../../test/render';
import { IdentitySourcesScreen } from '../IdentitySourcesScreen';

// The IdP metadata import on the identity sources screen: offered in the edit dialog of a saml
// source only (the Manager refuses it on any other type), its button idle until something is pasted.
const at = '2026-12-01T00:00:00.000Z';
const source = (id: string, name: string, type: string) => ({
  id: `0a0b0c0d-1111-4222-8333-0000000000${id}`,
  name,
  description: null,
  type,
  projectId: null,
  config: {},
  hasSecret: false,
  roleMappings: {},
  timeoutMs: 5000,
  cacheTtlSeconds: 60,
  enabled: true,
  sync: null,
  createdAt: at,
  updatedAt: at,
});
const seed: [readonly unknown[], unknown][] = [
  [['identity-sources'], [source('41', 'corp-adfs', 'saml'), source('42', 'corp', 'ldap')]],
  [['projects'], []],
  [['me', 'permissions', null, null], { scope: { type: 'system', id: null }, permissions: ['identity-source:read', 'identity-source:write'] }],
];

describe('IdP metadata import on identity sources', () => {
  it('is offered when editing a saml source, not an ldap one; its button waits for pasted XML', async () => {
    const view = renderWithCache(<IdentitySourcesScreen />, seed);
    fireEvent.click(screen.getByRole('button', { name: 'Edit identity source corp-adfs' }));
    const dialog = await screen.findByRole('dialog', { name: 'Identity source corp-adfs' });
    const button = within(dialog).getByRole('button', { name: 'Import IdP metadata' });
    expect((button as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText('IdP metadata XML'), { target: { value: '<md:EntityDescriptor/>' } });
    expect((button as HTMLButtonElement).disabled).toBe(false);
    view.unmount();
    renderWithCache(<IdentitySourcesScreen />, seed);
    fireEvent.click(screen.getByRole('button', { name: 'Edit identity source corp' }));
    const other = await screen.findByRole('dialog', { name: 'Identity source corp' });
    expect(within(other).queryByLabelText('IdP metadata XML')).toBeNull();
  });
});
