/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { screen, within } from '@testing-library/react';
import { renderWithCache } from '../../test/render';
import { EndUsersPanel } from '../screens/EndUsersPanel';
import { RegistrationPanel } from '../screens/project/RegistrationPanel';

// The project's registration switches, its initial access tokens and the end users' mail buttons,
// for an operator who may change them and one who may only read (a project viewer): the same
// settings and tokens, the forms and actions only for the first.
const projectId = '3f0f2f4e-6a43-4d55-9b55-1c2d3e4f5a6b';
const at = '2026-12-01T00:00:00.000Z';
const inProject = (permissions: string[]): [readonly unknown[], unknown] => [['me', 'permissions', projectId, null], { scope: { type: 'project', id: projectId }, permissions }];
const OWNER = ['project:read', 'project:write', 'credential:read', 'credential:write'];
const VIEWER = ['project:read', 'credential:read'];

// As the Manager's OpenAPI document states the bodies; `requireVerifiedEmail` stands for a field
// the API grows later: the form and the read-only table show it with no console change.
const put = (schema: Record<string, unknown>) => ({ put: { requestBody: { content: { 'application/json': { schema } } } } });
const openapi = {
  paths: {
    '/api/v1/projects/{projectId}/end-user-registration': put({
      type: 'object',
      properties: {
        selfRegistration: { type: 'boolean', description: 'whether people may create their own end-user account on the login page' },
        requireVerifiedEmail: { type: 'boolean', description: 'a new account signs in once its address is verified' },
      },
      required: ['selfRegistration'],
      additionalProperties: false,
    }),
    '/api/v1/projects/{projectId}/client-registration': put({ type: 'object', properties: { enabled: { type: 'boolean' } }, required: ['enabled'], additionalProperties: false }),
  },
};
const token = {
  id: '0a0b0c0d-1111-4222-8333-000000000031',
  projectId,
  prefix: 'iat_abcd1234',
  description: 'partner onboarding',
  singleUse: true,
  expiresAt: '2099-01-01T00:00:00.000Z',
  usedAt: null,
  registrations: 0,
  createdAt: at,
};
const registration: [readonly unknown[], unknown][] = [
  [['openapi'], openapi],
  [['end-user-registration', projectId], { selfRegistration: false, requireVerifiedEmail: true }],
  [['client-registration', projectId], { enabled: true }],
  [['initial-access-tokens', projectId], [token]],
];
const button = (name: string) => screen.queryByRole('button', { name });
const checkbox = (name: string) => screen.queryByRole('checkbox', { name: new RegExp(`^${name}`) });

describe('registration settings and initial access tokens, permission-aware', () => {
  it('project:write edits both switches in forms generated from the contract (a new field included); credential:write creates and revokes tokens', () => {
    renderWithCache(<RegistrationPanel projectId={projectId} />, [inProject(OWNER), ...registration]);
    expect((checkbox('Self registration') as HTMLInputElement).checked).toBe(false);
    expect((checkbox('Require verified email') as HTMLInputElement).checked).toBe(true);
    expect((checkbox('Enabled') as HTMLInputElement).checked).toBe(true);
    expect(button('Save self-registration')).toBeTruthy();
    expect(button('Save client registration')).toBeTruthy();
    const row = within(screen.getByRole('table', { name: 'Initial access tokens' })).getAllByRole('row')[1];
    expect(within(row).getByText('iat_abcd1234…')).toBeTruthy();
    expect(within(row).getByText('partner onboarding')).toBeTruthy();
    expect(within(row).getByText('usable')).toBeTruthy();
    expect(button('New initial access token')).toBeTruthy();
    expect(button('Revoke initial access token iat_abcd1234')).toBeTruthy();
  });

  it('a project viewer reads every setting (the new field too) and the tokens, with no form, switch or token action', () => {
    renderWithCache(<RegistrationPanel projectId={projectId} />, [inProject(VIEWER), ...registration]);
    expect(screen.getAllByText('You may look at these settings but not change them.')).toHaveLength(2);
    const selfRegistration = within(screen.getByRole('table', { name: 'End-user self-registration' }));
    expect(selfRegistration.getByRole('row', { name: 'Self registration Off' })).toBeTruthy();
    expect(selfRegistration.getByRole('row', { name: 'Require verified email On' })).toBeTruthy();
    expect(within(screen.getByRole('table', { name: 'Dynamic client registration' })).getByRole('row', { name: 'Enabled On' })).toBeTruthy();
    expect(screen.queryAllByRole('checkbox')).toEqual([]);
    expect(button('Save self-registration')).toBeNull();
    expect(button('Save client registration')).toBeNull();
    expect(within(screen.getByRole('table', { name: 'Initial access tokens' })).getByText('iat_abcd1234…')).toBeTruthy();
    expect(button('New initial access token')).toBeNull();
    expect(screen.queryAllByRole('button', { name: /^Revoke/ })).toEqual([]);
  });

  it('says what to do when there is no token: create one (credential:write), or just that there is none', () => {
    const empty: [readonly unknown[], unknown][] = [...registration.slice(0, 3), [['initial-access-tokens', projectId], []]];
    const view = renderWithCache(<RegistrationPanel projectId={projectId} />, [inProject(OWNER), ...empty]);
    expect(screen.getByText(/No initial access tokens\. Create one/)).toBeTruthy();
    view.unmount();
    renderWithCache(<RegistrationPanel projectId={projectId} />, [inProject(VIEWER), ...empty]);
    expect(screen.getByText('No initial access tokens.')).toBeTruthy();
  });
});

describe("end users' mails, permission-aware", () => {
  const user = (id: string, username: string, extra: Record<string, unknown> = {}) => ({
    id: `0a0b0c0d-1111-4222-8333-0000000000${id}`,
    projectId,
    teamId: null,
    username,
    hasPassword: true,
    email: `${username}@example.com`,
    emailVerified: false,
    name: null,
    givenName: null,
    familyName: null,
    locale: null,
    roles: [],
    enabled: true,
    locked: false,
    identitySource: null,
    lastLoginAt: null,
    createdAt: at,
    ...extra,
  });
  const users: [readonly unknown[], unknown] = [
    ['end-users', projectId, '', null],
    [user('41', 'bob'), user('42', 'ada', { emailVerified: true }), user('43', 'dir', { identitySource: { id: '0a0b0c0d-1111-4222-8333-000000000044', name: 'ldap' } })],
  ];

  it('credential:write sends the verification mail to an unverified address and the reset mail to a password the project holds', () => {
    renderWithCache(<EndUsersPanel projectId={projectId} />, [inProject(OWNER), users]);
    expect(button('Send verification mail to bob')).toBeTruthy();
    expect(button('Send password reset mail to bob')).toBeTruthy();
    // Already verified: nothing to verify; from a directory: its password is reset there.
    expect(button('Send verification mail to ada')).toBeNull();
    expect(button('Send password reset mail to ada')).toBeTruthy();
    expect(button('Send verification mail to dir')).toBeTruthy();
    expect(button('Send password reset mail to dir')).toBeNull();
  });

  it('a project viewer sees the users and no mail button', () => {
    renderWithCache(<EndUsersPanel projectId={projectId} />, [inProject(VIEWER), users]);
    expect(screen.getByText('bob')).toBeTruthy();
    expect(screen.queryAllByRole('button', { name: /^Send / })).toEqual([]);
  });
});
