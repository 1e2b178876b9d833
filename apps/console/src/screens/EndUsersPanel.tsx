import { Button, Group, Modal, PasswordInput, Stack, Switch, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ApiError, api } from '../api/client';
import type { EndUser } from '../api/types';
import { EntityListPanel, RowAction } from '../layout/EntityListPanel';
import { KeysetPager } from '../layout/KeysetPager';
import { usePermissions } from '../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction, useEscapeUnderConfirmation } from './actions';
import { EndUserConsents } from './EndUserConsents';
import { useEndUserMails } from './EndUserMails';

const PAGE = 50;

/**
 * People who log in at the Gateway's login page (the project's OpenID Provider): searched and
 * paged by the server, created with a password, disabled or locked out, deleted after a confirmation;
 * the OIDC clients each consented to, revoked after a confirmation; sent the verification or
 * password reset mail.
 */
export function EndUsersPanel({ projectId }: { projectId: string }) {
  const [search, setSearch] = useState('');
  const [term] = useDebouncedValue(search.trim(), 300);
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors.at(-1);
  const query = new URLSearchParams({ limit: String(PAGE), ...(after ? { after } : {}), ...(term ? { search: term } : {}) });
  const users = useQuery({ queryKey: ['end-users', projectId, term, after ?? null], queryFn: () => api<EndUser[]>('GET', `/projects/${projectId}/users?${query.toString()}`) });
  const { can } = usePermissions({ projectId });
  const writable = can('credential:write');
  const [creating, setCreating] = useState(false);
  const [consentsOf, setConsentsOf] = useState<EndUser | null>(null);
  const escape = useEscapeUnderConfirmation(consentsOf !== null, () => setConsentsOf(null));
  const action = useAction([['end-users', projectId]]);
  const mails = useEndUserMails(projectId, action.run);
  const update = (user: EndUser, change: Partial<Pick<EndUser, 'enabled' | 'locked'>>) => void action.run(() => api('PATCH', `/projects/${projectId}/users/${user.id}`, change));
  const remove = (user: EndUser) =>
    confirmDestructive(
      'Delete end user',
      `${user.username} can no longer log in; the credential they are is deleted too.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/projects/${projectId}/users/${user.id}`), `End user ${user.username} deleted`),
    );
  const list = users.data ?? [];
  return (
    <EntityListPanel
      title="End users"
      label="End users"
      rows={users.data}
      rowKey={(u) => u.id}
      loading={users.isLoading}
      loadError={users.error}
      actionError={action.error}
      empty={term ? `No end user matches “${term}”.` : 'No end users yet. An end user logs in at the Gateway’s login page when an OIDC client of this project sends them there.'}
      create={writable ? { label: 'New end user', onClick: () => setCreating(true) } : undefined}
      toolbar={
        <>
          <TextInput
            label="Search"
            description="Username, email or name"
            value={search}
            onChange={(e) => {
              setSearch(e.currentTarget.value);
              setCursors([]);
            }}
            maw={360}
          />
          {mails.result}
        </>
      }
      columns={[
        { header: 'Username', cell: (u) => u.username },
        { header: 'Email', cell: (u) => `${u.email}${u.emailVerified ? ' (verified)' : ''}` },
        { header: 'Name', cell: (u) => u.name ?? '—' },
        { header: 'Last login', cell: (u) => (u.lastLoginAt ? new Date(u.lastLoginAt).toLocaleString() : 'never') },
        {
          header: 'Enabled',
          cell: (u) => <Switch aria-label={`${u.username} enabled`} checked={u.enabled} disabled={!writable} onChange={(e) => update(u, { enabled: e.currentTarget.checked })} />,
        },
        {
          header: 'Locked',
          cell: (u) => <Switch aria-label={`${u.username} locked`} checked={u.locked} disabled={!writable} onChange={(e) => update(u, { locked: e.currentTarget.checked })} />,
        },
      ]}
      actions={(u) => (
        <Group gap="xs" wrap="nowrap">
          <RowAction label={`Consents of ${u.username}`} onClick={() => setConsentsOf(u)}>
            Consents
          </RowAction>
          {writable && mails.buttons(u)}
          {writable && (
            <RowAction label={`Delete end user ${u.username}`} onClick={() => remove(u)} destructive>
              Delete
            </RowAction>
          )}
        </Group>
      )}
      footer={<KeysetPager cursors={cursors} onChange={setCursors} lastKey={list.at(-1)?.username} full={list.length === PAGE} />}
    >
      <Modal {...escape} opened={consentsOf !== null} onClose={() => setConsentsOf(null)} title={`Consents of ${consentsOf?.username ?? ''}`} size="lg">
        {consentsOf && <EndUserConsents projectId={projectId} user={consentsOf} />}
      </Modal>
      <Modal opened={creating} onClose={() => setCreating(false)} title="New end user">
        <CreateEndUserForm projectId={projectId} onDone={() => setCreating(false)} />
      </Modal>
    </EntityListPanel>
  );
}

function CreateEndUserForm({ projectId, onDone }: { projectId: string; onDone: () => void }) {
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction([['end-users', projectId]]);
  // A finding on a field shows under that field; the rest in the form's alert.
  const fieldError = (field: string) => (action.error instanceof ApiError ? action.error.errors.find((e) => e.path === field)?.message : undefined);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = { username, email, ...(name ? { name } : {}), ...(password ? { password } : {}) };
    if (await action.run(() => api('POST', `/projects/${projectId}/users`, body), `End user ${username} created`)) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate autoComplete="off">
      <Stack>
        <ErrorAlert error={action.error} />
        <TextInput label="Username" required value={username} onChange={(e) => setUsername(e.currentTarget.value)} error={fieldError('username')} />
        <TextInput label="Email" required type="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} error={fieldError('email')} />
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={fieldError('name')} />
        <PasswordInput
          label="Password"
          description="Optional: without one the user cannot log in with a password. Tell it over a channel you trust."
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          error={fieldError('password')}
          autoComplete="new-password"
        />
        <Button type="submit">Create end user</Button>
      </Stack>
    </form>
  );
}
