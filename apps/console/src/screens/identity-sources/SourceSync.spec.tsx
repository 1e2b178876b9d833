/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MantineProvider } from '@mantine/core';
import { renderWithCache } from '../../../test/render';
import { IdentitySourcesScreen } from '../IdentitySourcesScreen';
import { SyncReport } from './SourceSync';

// "Sync now" on the identity sources list: offered only on a source the Manager can sync (one with
// sync settings) and only where the operator may write identity sources at the source's scope;
// it asks first; its report says in words what the run did.
const projectId = '3f0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const at = '2026-12-01T00:00:00.000Z';
const sync = { enabled: false, intervalMinutes: 60, maxDisabledPerRun: 25 };
const source = (id: string, name: string, type: string, sourceProject: string | null, withSync: boolean) => ({
  id: `0a0b0c0d-1111-4222-8333-0000000000${id}`,
  name,
  description: null,
  type,
  projectId: sourceProject,
  config: {},
  hasSecret: true,
  roleMappings: {},
  timeoutMs: 5000,
  cacheTtlSeconds: 60,
  enabled: true,
  sync: withSync ? (type === 'sql' ? { ...sync, lookupQuery: 'SELECT 1 FROM users WHERE login = :username' } : sync) : null,
  createdAt: at,
  updatedAt: at,
});
const sources: [readonly unknown[], unknown] = [
  ['identity-sources'],
  [
    source('21', 'corp', 'ldap', null, true),
    source('22', 'partners-idp', 'oidc', null, false),
    source('23', 'shop-db', 'sql', projectId, true),
    source('24', 'legacy-db', 'sql', projectId, false),
  ],
];
const projects: [readonly unknown[], unknown] = [['projects'], [{ id: projectId, name: 'shop', description: null, createdAt: at }]];
const system = (permissions: string[]) => [['me', 'permissions', null, null], { scope: { type: 'system', id: null }, permissions }] as [readonly unknown[], unknown];
const inProject = (permissions: string[]) => [['me', 'permissions', projectId, null], { scope: { type: 'project', id: projectId }, permissions }] as [readonly unknown[], unknown];
const syncButtons = () =>
  screen
    .queryAllByRole('button')
    .map((b) => b.getAttribute('aria-label') ?? '')
    .filter((l) => l.startsWith('Sync now: identity source'));

describe('"Sync now" on identity sources', () => {
  it('is offered on sources with sync settings, at scopes where the operator holds identity-source:write', () => {
    const view = renderWithCache(<IdentitySourcesScreen />, [
      system(['identity-source:read', 'identity-source:write']),
      inProject(['identity-source:read', 'identity-source:write']),
      sources,
      projects,
    ]);
    // Not on the OpenID Provider nor on the SQL source without a lookup query: the Manager would refuse both.
    expect(syncButtons()).toEqual(['Sync now: identity source corp', 'Sync now: identity source shop-db']);
    view.unmount();
    // Writes at System only: the project's source is read-only to this operator, its sync too.
    renderWithCache(<IdentitySourcesScreen />, [system(['identity-source:read', 'identity-source:write']), inProject(['identity-source:read']), sources, projects]);
    expect(syncButtons()).toEqual(['Sync now: identity source corp']);
  });

  it('asks first, saying what a run disables and that the guard limit holds; Cancel runs nothing', async () => {
    renderWithCache(<IdentitySourcesScreen />, [system(['identity-source:read', 'identity-source:write']), inProject(['identity-source:read']), sources, projects]);
    fireEvent.click(screen.getByRole('button', { name: 'Sync now: identity source corp' }));
    const confirm = await screen.findByRole('dialog', { name: 'Sync identity source corp' });
    expect(confirm.textContent).toContain('Those it no longer knows are disabled');
    expect(confirm.textContent).toContain('If more than 25 are gone, nobody is disabled');
    fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Sync identity source corp' })).toBeNull());
    expect(screen.queryByRole('dialog', { name: /^Sync of/ })).toBeNull();
  });

  it('reports who was checked and who was disabled or signed out, by name', () => {
    const report = {
      sourceId: '0a0b0c0d-1111-4222-8333-000000000021',
      checked: { endUsers: 3, operators: 1 },
      disabled: { endUsers: [{ id: '0a0b0c0d-1111-4222-8333-000000000031', username: 'ben' }], operators: [{ id: '0a0b0c0d-1111-4222-8333-000000000032', username: 'corp:dave' }] },
      durationMs: 42,
    };
    const view = render(
      <MantineProvider>
        <SyncReport report={report} />
      </MantineProvider>,
    );
    expect(view.container.textContent).toContain('Checked 3 end users and 1 operator in 42 ms.');
    expect(view.container.textContent).toContain('Disabled 1 end user gone from the directory: ben');
    expect(view.container.textContent).toContain('Signed out 1 operator gone from the directory');
    expect(view.container.textContent).toContain('corp:dave');
    view.unmount();
    const quiet = render(
      <MantineProvider>
        <SyncReport report={{ ...report, checked: { endUsers: 1, operators: 0 }, disabled: { endUsers: [], operators: [] } }} />
      </MantineProvider>,
    );
    expect(quiet.container.textContent).toContain('Checked 1 end user and 0 operators');
    expect(quiet.container.textContent).toContain('nobody was disabled');
  });
});
