/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { screen } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { CredentialsPanel } from '../screens/CredentialsPanel';

const projectId = '3f0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const credential = {
  id: '0a0b0c0d-1111-4222-8333-444455556666',
  projectId,
  username: 'billing',
  enabled: true,
  expiresAt: null,
  createdAt: '2026-12-01T00:00:00.000Z',
  apiKeys: [{ id: '0a0b0c0d-1111-4222-8333-777788889999', prefix: 'idm_abc', expiresAt: null, createdAt: '2026-12-01T00:00:00.000Z' }],
};

function renderAs(permissions: string[]) {
  return renderWithCache(<CredentialsPanel projectId={projectId} />, [
    [['me', 'permissions', projectId, null], { scope: { type: 'project', id: projectId }, permissions }],
    [['credentials', projectId, null], [credential]],
  ]);
}

describe('permission-aware rendering (what GET /api/v1/me/permissions says the operator may do)', () => {
  it('shows every action to an operator who holds the permissions', () => {
    renderAs(['credential:read', 'credential:write', 'credential:rotate']);
    expect(screen.getByRole('button', { name: 'New credential' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Rotate' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Revoke' })).toBeTruthy();
    expect((screen.getByRole('switch', { name: 'billing enabled' }) as HTMLInputElement).disabled).toBe(false);
  });

  it('shows a viewer the data and no action', () => {
    renderAs(['credential:read']);
    expect(screen.getByText('billing')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'New credential' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Rotate' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Revoke' })).toBeNull();
    expect((screen.getByRole('switch', { name: 'billing enabled' }) as HTMLInputElement).disabled).toBe(true);
  });

  it('lets rotation alone through when that is all the role allows', () => {
    renderAs(['credential:read', 'credential:rotate']);
    expect(screen.getByRole('button', { name: 'Rotate' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Revoke' })).toBeNull();
  });
});
