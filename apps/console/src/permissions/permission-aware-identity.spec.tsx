/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { screen } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { EndUsersPanel } from '../screens/EndUsersPanel';
import { IdentitySourcesScreen } from '../screens/IdentitySourcesScreen';

// The identity screens, each rendered for an operator who may act and one who may only read:
// the same data, the actions (and the switches' use) only for the first.
const projectId = '3f0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const at = '2026-12-01T00:00:00.000Z';
const source = (id: string, name: string, sourceProject: string | null) => ({
  id,
  name,
  description: null,
  type: 'ldap',
  projectId: sourceProject,
  config: { url: 'ldaps://ldap.example.org' },
  hasSecret: true,
  roleMappings: {},
  timeoutMs: 5000,
  cacheTtlSeconds: 60,
  enabled: true,
  createdAt: at,
  updatedAt: at,
});
const ada = {
  id: '0a0b0c0d-1111-4222-8333-000000000011',
  projectId,
  teamId: null,
  username: 'ada',
  hasPassword: true,
  email: 'ada@example.com',
  emailVerified: false,
  name: null,
  givenName: null,
  familyName: null,
  locale: null,
  roles: [],
  enabled: true,
  locked: false,
  lastLoginAt: null,
  createdAt: at,
};
const system = (permissions: string[]) => [['me', 'permissions', null, null], { scope: { type: 'system', id: null }, permissions }] as [readonly unknown[], unknown];
const inProject = (permissions: string[]) => [['me', 'permissions', projectId, null], { scope: { type: 'project', id: projectId }, permissions }] as [readonly unknown[], unknown];
const button = (name: string | RegExp) => screen.queryByRole('button', { name });

describe('permission-aware rendering of the identity screens', () => {
  it('identity sources: identity-source:write at a source scope shows its edit and delete; reading alone shows the list', () => {
    const sources: [readonly unknown[], unknown] = [
      ['identity-sources'],
      [source('0a0b0c0d-1111-4222-8333-000000000021', 'corp', null), source('0a0b0c0d-1111-4222-8333-000000000022', 'shop-db', projectId)],
    ];
    const projects: [readonly unknown[], unknown] = [['projects'], [{ id: projectId, name: 'shop', description: null, createdAt: at }]];
    // Writes in the project only: the project's source is editable, the System one is not, and nothing new at System.
    const view = renderWithCache(<IdentitySourcesScreen />, [system(['identity-source:read']), inProject(['identity-source:read', 'identity-source:write']), sources, projects]);
    expect(screen.getByText('corp')).toBeTruthy();
    expect(screen.getByText('shop')).toBeTruthy(); // the project-scoped source's scope, by name
    expect(button('Edit identity source shop-db')).toBeTruthy();
    expect(button('Edit identity source corp')).toBeNull();
    // Testing uses the sealed secret: it takes identity-source:write at the source's scope, like editing.
    expect(button('Test connection of identity source shop-db')).toBeTruthy();
    expect(button('Test connection of identity source corp')).toBeNull();
    expect(button('New identity source')).toBeNull();
    view.unmount();
    renderWithCache(<IdentitySourcesScreen />, [
      system(['identity-source:read', 'identity-source:write']),
      inProject(['identity-source:read', 'identity-source:write']),
      sources,
      projects,
    ]);
    expect(button('New identity source')).toBeTruthy();
    expect(button('Delete identity source corp')).toBeTruthy();
  });

  it('end users: credential:write shows create, delete and usable switches; credential:read shows them disabled', () => {
    const users: [readonly unknown[], unknown] = [['end-users', projectId, '', null], [ada]];
    const view = renderWithCache(<EndUsersPanel projectId={projectId} />, [inProject(['credential:read', 'credential:write']), users]);
    expect(button('New end user')).toBeTruthy();
    expect(button('Delete end user ada')).toBeTruthy();
    expect((screen.getByRole('switch', { name: 'ada locked' }) as HTMLInputElement).disabled).toBe(false);
    view.unmount();
    renderWithCache(<EndUsersPanel projectId={projectId} />, [inProject(['credential:read']), users]);
    expect(screen.getByText('ada')).toBeTruthy();
    expect(button('New end user')).toBeNull();
    expect(button('Delete end user ada')).toBeNull();
    expect((screen.getByRole('switch', { name: 'ada enabled' }) as HTMLInputElement).disabled).toBe(true);
  });
});
