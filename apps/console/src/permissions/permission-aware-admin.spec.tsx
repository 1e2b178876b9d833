/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { screen } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { GroupsPanel } from '../screens/access/GroupsPanel';
import { RoleBindingsPanel } from '../screens/access/RoleBindingsPanel';
import { RolesPanel } from '../screens/access/RolesPanel';
import { UsersPanel } from '../screens/access/UsersPanel';
import { BlocksPanel } from '../screens/environment/BlocksPanel';
import { SigningKeysPanel } from '../screens/environment/SigningKeysPanel';
import { RequestsPanel } from '../screens/RequestsPanel';
import { SecretsPanel } from '../screens/SecretsPanel';
import { TeamsPanel } from '../screens/TeamsPanel';

// The screens added for teams, access, signing keys and brute-force blocks, each rendered for an
// operator who may act and one who may only read: the same data, the actions only for the first.
const projectId = '3f0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const otherProjectId = '9f0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const environmentId = '5e0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const at = '2026-12-01T00:00:00.000Z';
const alice = { id: '0a0b0c0d-1111-4222-8333-000000000001', username: 'alice', createdAt: at, updatedAt: at };
const ops = { id: '0a0b0c0d-1111-4222-8333-000000000002', name: 'ops', description: null, members: [alice.id] };
const viewerRole = {
  id: '0a0b0c0d-1111-4222-8333-000000000003',
  name: 'project-viewer',
  description: 'Read everything in a project',
  builtIn: true,
  permissions: ['project:read'],
};
const customRole = { id: '0a0b0c0d-1111-4222-8333-000000000004', name: 'auditor', description: null, builtIn: false, permissions: ['audit:read'] };
const binding = {
  id: '0a0b0c0d-1111-4222-8333-000000000005',
  roleId: viewerRole.id,
  subject: { type: 'group', id: ops.id },
  scope: { type: 'project', id: projectId },
  projectId,
  createdAt: at,
};
const team = { id: '0a0b0c0d-1111-4222-8333-000000000006', projectId, name: 'payments', description: 'The payments team', createdAt: at, updatedAt: at };
const signingKey = {
  id: '0a0b0c0d-1111-4222-8333-000000000007',
  kid: 'kid-1',
  algorithm: 'RS256',
  publicJwk: { kty: 'RSA', kid: 'kid-1', n: 'abc', e: 'AQAB' },
  activatesAt: at,
  publishedUntil: null,
  createdAt: at,
};
const block = (id: string, credential: string, blockProject: string) => ({
  id,
  detector: 'credential',
  credential,
  projectId: blockProject,
  address: null,
  source: 'proxy',
  failures: 5,
  strike: 1,
  blockedAt: at,
  until: '2099-01-01T00:00:00.000Z',
});

const system = (permissions: string[]) => [['me', 'permissions', null, null], { scope: { type: 'system', id: null }, permissions }] as [readonly unknown[], unknown];
const inProject = (id: string, permissions: string[]) => [['me', 'permissions', id, null], { scope: { type: 'project', id }, permissions }] as [readonly unknown[], unknown];
const accessData: [readonly unknown[], unknown][] = [
  [['users'], [alice]],
  [['groups'], [ops]],
  [['roles'], [viewerRole, customRole]],
  [['role-bindings'], [binding]],
  [['projects'], [{ id: projectId, name: 'shop', description: null, createdAt: at }]],
];
const button = (name: string | RegExp) => screen.queryByRole('button', { name });

describe('permission-aware rendering of the administration screens', () => {
  it('teams: team:write shows create and delete; team:read shows the teams alone', () => {
    const view = renderWithCache(<TeamsPanel projectId={projectId} />, [inProject(projectId, ['team:read', 'team:write']), [['teams', projectId], [team]]]);
    expect(button('New team')).toBeTruthy();
    expect(button('Delete team payments')).toBeTruthy();
    view.unmount();
    renderWithCache(<TeamsPanel projectId={projectId} />, [inProject(projectId, ['team:read']), [['teams', projectId], [team]]]);
    expect(screen.getByText('payments')).toBeTruthy();
    expect(button('New team')).toBeNull();
    expect(button('Delete team payments')).toBeNull();
  });

  it('teams: an empty project says what a team is for', () => {
    renderWithCache(<TeamsPanel projectId={projectId} />, [inProject(projectId, ['team:read']), [['teams', projectId], []]]);
    expect(screen.getByText(/No teams yet/)).toBeTruthy();
  });

  it('operators and groups: user:write at the system scope shows every change; user:read none', () => {
    const writer = renderWithCache(
      <>
        <UsersPanel />
        <GroupsPanel />
      </>,
      [system(['user:read', 'user:write']), ...accessData],
    );
    for (const name of ['New operator', 'Reset password of alice', 'Delete operator alice', 'New group', 'Delete group ops', 'Remove alice from ops'])
      expect(button(name)).toBeTruthy();
    expect(screen.getByRole('combobox', { name: 'Add an operator to ops' })).toBeTruthy();
    writer.unmount();
    renderWithCache(
      <>
        <UsersPanel />
        <GroupsPanel />
      </>,
      [system(['user:read']), ...accessData],
    );
    expect(screen.getAllByText('alice').length).toBe(2); // in the operators and as the group's member
    for (const name of ['New operator', /Reset password/, /Delete operator/, 'New group', /Delete group/, /Remove alice/]) expect(button(name)).toBeNull();
    expect(screen.queryByRole('combobox', { name: 'Add an operator to ops' })).toBeNull();
  });

  it('roles: role:write edits custom roles only; built-in roles are never editable', () => {
    const writer = renderWithCache(<RolesPanel />, [system(['role:read', 'role:write']), ...accessData]);
    expect(button('New role')).toBeTruthy();
    expect(button('Edit role auditor')).toBeTruthy();
    expect(button('Delete role auditor')).toBeTruthy();
    expect(button('Delete role project-viewer')).toBeNull();
    writer.unmount();
    renderWithCache(<RolesPanel />, [system(['role:read']), ...accessData]);
    expect(screen.getByText('auditor')).toBeTruthy();
    expect(button('New role')).toBeNull();
    expect(button(/Delete role/)).toBeNull();
  });

  it('role bindings: names the role, the holder and the scope; role:bind shows bind and remove', () => {
    const writer = renderWithCache(<RoleBindingsPanel />, [system(['role:read', 'role:bind']), ...accessData]);
    expect(screen.getByRole('cell', { name: 'group ops' })).toBeTruthy();
    expect(screen.getByRole('cell', { name: 'project shop' })).toBeTruthy();
    expect(button('Bind a role')).toBeTruthy();
    expect(button('Remove project-viewer of group ops')).toBeTruthy();
    writer.unmount();
    renderWithCache(<RoleBindingsPanel />, [system(['role:read']), ...accessData]);
    expect(screen.getByRole('cell', { name: 'group ops' })).toBeTruthy();
    expect(button('Bind a role')).toBeNull();
    expect(button(/Remove/)).toBeNull();
  });

  it('signing keys: environment:write rotates; a reader sees the keys and the JWKS only', () => {
    const writer = renderWithCache(<SigningKeysPanel environmentId={environmentId} />, [
      system(['environment:read', 'environment:write']),
      [['signing-keys', environmentId], [signingKey]],
    ]);
    expect(button('Rotate signing key')).toBeTruthy();
    expect(screen.getByLabelText('JWKS').textContent).toContain('"kid": "kid-1"');
    writer.unmount();
    const reader = renderWithCache(<SigningKeysPanel environmentId={environmentId} />, [system(['environment:read']), [['signing-keys', environmentId], [signingKey]]]);
    expect(screen.getByText('kid-1')).toBeTruthy();
    expect(button(/signing key/)).toBeNull();
    expect(button('Copy JWKS')).toBeTruthy();
    reader.unmount();
    renderWithCache(<SigningKeysPanel environmentId={environmentId} />, [system(['environment:read', 'environment:write']), [['signing-keys', environmentId], []]]);
    expect(button('Generate signing key')).toBeTruthy();
    expect(screen.getByText(/No signing key yet/)).toBeTruthy();
  });

  it("brute-force blocks: unblock shows where credential:write is held at the block's project, not elsewhere", () => {
    renderWithCache(<BlocksPanel environmentId={environmentId} />, [
      system(['credential:read']),
      inProject(projectId, ['credential:read', 'credential:write']),
      inProject(otherProjectId, ['credential:read']),
      [
        ['blocks', environmentId],
        [block('b1', 'billing', projectId), block('b2', 'partner', otherProjectId)],
      ],
    ]);
    expect(screen.getByText('partner')).toBeTruthy();
    expect(button('Unblock billing')).toBeTruthy();
    expect(button('Unblock partner')).toBeNull();
  });

  it('self-service requests: credential:write decides the pending ones; a reader sees them undecided', () => {
    const proxy = { id: '0a0b0c0d-1111-4222-8333-000000000008', name: 'public-api' };
    const request = (id: string, username: string, status: string) => ({
      id,
      proxyId: proxy.id,
      username,
      contact: null,
      status,
      credentialId: null,
      decidedBy: status === 'pending' ? null : 'admin',
      createdAt: at,
    });
    const seed = [
      [['proxies', projectId], [proxy]],
      [
        ['credential-requests', projectId],
        [request('0a0b0c0d-1111-4222-8333-000000000009', 'dev-one', 'pending'), request('0a0b0c0d-1111-4222-8333-00000000000a', 'dev-two', 'approved')],
      ],
    ] as [readonly unknown[], unknown][];
    const writer = renderWithCache(<RequestsPanel projectId={projectId} />, [inProject(projectId, ['credential:read', 'credential:write']), ...seed]);
    expect(button('Approve dev-one')).toBeTruthy();
    expect(button('Reject dev-one')).toBeTruthy();
    expect(button('Approve dev-two')).toBeNull(); // decided already
    writer.unmount();
    renderWithCache(<RequestsPanel projectId={projectId} />, [inProject(projectId, ['credential:read']), ...seed]);
    expect(screen.getByText('dev-one')).toBeTruthy();
    expect(screen.getAllByText('public-api').length).toBe(2);
    expect(button(/Approve|Reject/)).toBeNull();
  });

  it('secrets: secret:write creates, rotates and deletes; a reader sees names and key ids, never a value', () => {
    const secret = {
      id: '0a0b0c0d-1111-4222-8333-00000000000b',
      projectId,
      teamId: null,
      name: 'partner-hmac',
      description: null,
      kind: 'shared-secret',
      currentVersion: 1,
      versions: [{ version: 1, kid: 'kid-hmac', publicJwk: null, certificates: [], x5tS256: null, hasSecretMaterial: true, createdAt: at, retiresAt: null }],
      createdAt: at,
      updatedAt: at,
    };
    const writer = renderWithCache(<SecretsPanel projectId={projectId} />, [inProject(projectId, ['secret:read', 'secret:write']), [['secrets', projectId], [secret]]]);
    for (const name of ['New secret', 'Rotate secret partner-hmac', 'Delete secret partner-hmac']) expect(button(name)).toBeTruthy();
    writer.unmount();
    renderWithCache(<SecretsPanel projectId={projectId} />, [inProject(projectId, ['secret:read']), [['secrets', projectId], [secret]]]);
    expect(screen.getByText('partner-hmac')).toBeTruthy();
    expect(screen.getByText('kid-hmac')).toBeTruthy();
    expect(button(/secret/)).toBeNull();
  });
});
