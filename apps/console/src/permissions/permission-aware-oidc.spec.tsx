/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { screen, within } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { EndUserConsents } from '../screens/EndUserConsents';
import { OidcClientPanel } from '../screens/credentials/OidcClientPanel';
import { ClientConsents } from '../screens/project/OidcClientsPanel';

// A credential's OIDC client settings and an end user's consents, for an operator who may
// change them and one who may only read: the same settings and consents, the actions only for the first.
const projectId = '3f0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const at = '2026-12-01T00:00:00.000Z';
const client = { id: '0a0b0c0d-1111-4222-8333-000000000021', projectId, username: 'web-portal', enabled: true, expiresAt: null, apiKeys: [], access: {}, createdAt: at };
const settings = {
  grants: ['client_credentials', 'authorization_code'],
  oidc: {
    clientType: 'confidential',
    redirectUris: ['https://portal.example.com/callback'],
    postLogoutRedirectUris: [],
    tokenEndpointAuthMethod: 'client_secret_basic',
    jwks: null,
    requirePkce: true,
    consentRequired: true,
    requirePar: true,
    idTokenLifetimeSeconds: 3600,
  },
};
const ada = { id: '0a0b0c0d-1111-4222-8333-000000000011', projectId, username: 'ada' };
const inProject = (permissions: string[]): [readonly unknown[], unknown] => [['me', 'permissions', projectId, null], { scope: { type: 'project', id: projectId }, permissions }];
const seed: [readonly unknown[], unknown][] = [
  [['token-settings', client.id], settings],
  [
    ['consents', ada.id],
    [
      { environment: 'dev', clientId: client.id, scopes: ['openid', 'email'] },
      { environment: 'prod', clientId: client.id, scopes: ['openid'] },
    ],
  ],
  [['credential', client.id], client],
];
const button = (name: string) => screen.queryByRole('button', { name });
const summary = { credentialId: client.id, username: 'web-portal', enabled: true, clientType: 'confidential' as const, redirectUris: [], consentRequired: true };
const consentsToClient: [readonly unknown[], unknown] = [
  ['client-consents', projectId, client.id, ''],
  {
    items: [
      { userId: ada.id, username: 'ada', environment: 'dev', scopes: ['openid', 'email'] },
      { userId: ada.id, username: 'ada', environment: 'prod', scopes: ['openid'] },
    ],
    next: null,
  },
];

describe('OIDC clients and consents, permission-aware', () => {
  it("lists the client's settings at a glance; credential:write adds edit and stop, credential:read does not", () => {
    const view = renderWithCache(<OidcClientPanel projectId={projectId} credential={client} />, [inProject(['credential:read', 'credential:write']), ...seed]);
    const table = screen.getByRole('table', { name: 'OIDC client settings' });
    expect(within(table).getByText('https://portal.example.com/callback')).toBeTruthy();
    expect(within(table).getByRole('row', { name: /Pushed authorization requests \(PAR\) required/ })).toBeTruthy();
    expect(within(table).getByRole('row', { name: /User consent asked/ })).toBeTruthy();
    expect(button('Edit OIDC client')).toBeTruthy();
    expect(button('Stop being an OIDC client')).toBeTruthy();
    view.unmount();
    renderWithCache(<OidcClientPanel projectId={projectId} credential={client} />, [inProject(['credential:read']), ...seed]);
    expect(screen.getByText('https://portal.example.com/callback')).toBeTruthy();
    expect(button('Edit OIDC client')).toBeNull();
    expect(button('Stop being an OIDC client')).toBeNull();
  });

  it("lists an end user's consents one row per client, named by the client's username; revoke only with credential:write", () => {
    const view = renderWithCache(<EndUserConsents projectId={projectId} user={ada as never} />, [inProject(['credential:read', 'credential:write']), ...seed]);
    const rows = within(screen.getByRole('table', { name: 'Consents of ada' })).getAllByRole('row');
    expect(rows).toHaveLength(2); // the header and web-portal (given in two environments)
    expect(within(rows[1]).getByText('web-portal')).toBeTruthy();
    expect(within(rows[1]).getByText('dev, prod')).toBeTruthy();
    expect(button('Revoke consent to web-portal')).toBeTruthy();
    view.unmount();
    renderWithCache(<EndUserConsents projectId={projectId} user={ada as never} />, [inProject(['credential:read']), ...seed]);
    expect(screen.getByText('web-portal')).toBeTruthy();
    expect(button('Revoke consent to web-portal')).toBeNull();
  });

  it('lists who consented to a client, per environment; a revoke button on each row only with credential:write', () => {
    const view = renderWithCache(<ClientConsents projectId={projectId} client={summary} />, [inProject(['credential:read', 'credential:write']), consentsToClient]);
    const rows = within(screen.getByRole('table', { name: 'Consents to web-portal' })).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[0]).getByText('Actions')).toBeTruthy();
    expect(button('Revoke consent of ada in dev')).toBeTruthy();
    expect(button('Revoke consent of ada in prod')).toBeTruthy();
    view.unmount();
    renderWithCache(<ClientConsents projectId={projectId} client={summary} />, [inProject(['credential:read']), consentsToClient]);
    const readOnly = within(screen.getByRole('table', { name: 'Consents to web-portal' }));
    expect(readOnly.getAllByRole('row')).toHaveLength(3);
    expect(readOnly.queryByText('Actions')).toBeNull();
    expect(screen.queryAllByRole('button', { name: /^Revoke consent/ })).toEqual([]);
  });
});
