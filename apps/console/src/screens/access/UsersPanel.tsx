import { Button, Modal, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../../api/client';
import { currentSession } from '../../api/session';
import type { User } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { EntityListPanel, RowAction } from '../../layout/EntityListPanel';

export const usersQuery = { queryKey: ['users'], queryFn: () => api<User[]>('GET', '/users') };

/** The Manager's operators: create, reset a password, delete (with their role bindings). */
export function UsersPanel() {
  const users = useQuery(usersQuery);
  const { can } = usePermissions();
  const writable = can('user:write');
  const [editing, setEditing] = useState<User | 'new' | null>(null);
  const action = useAction([['users'], ['role-bindings'], ['groups']]);
  const remove = (user: User) =>
    confirmDestructive(
      'Delete operator',
      `${user.username} can no longer sign in; their sessions, group memberships and role bindings go too.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/users/${user.id}`), `Operator ${user.username} deleted`),
    );
  return (
    <EntityListPanel
      title="Operators"
      label="Operators"
      rows={users.data}
      rowKey={(u) => u.id}
      loading={users.isLoading}
      loadError={users.error}
      actionError={action.error}
      empty="No operators you may see."
      create={writable ? { label: 'New operator', onClick: () => setEditing('new') } : undefined}
      columns={[
        { header: 'Username', cell: (u) => u.username },
        { header: 'Created', cell: (u) => new Date(u.createdAt).toLocaleString() },
      ]}
      actions={
        writable
          ? (u) => (
              <>
                <RowAction label={`Reset password of ${u.username}`} onClick={() => setEditing(u)}>
                  Reset password
                </RowAction>
                {u.username !== currentSession()?.username && (
                  <RowAction label={`Delete operator ${u.username}`} onClick={() => remove(u)} destructive>
                    Delete
                  </RowAction>
                )}
              </>
            )
          : undefined
      }
    >
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === 'new' ? 'New operator' : `Reset the password of ${editing?.username ?? ''}`}>
        {editing !== null && <UserForm user={editing === 'new' ? null : editing} onDone={() => setEditing(null)} />}
      </Modal>
    </EntityListPanel>
  );
}

function UserForm({ user, onDone }: { user: User | null; onDone: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction([['users']]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const done = user
      ? await action.run(() => api('PATCH', `/users/${user.id}`, { password }), `Password of ${user.username} reset`)
      : await action.run(() => api('POST', '/users', { username, password }), `Operator ${username} created`);
    if (done) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <Stack>
        <ErrorAlert error={action.error} />
        {!user && <TextInput label="Username" required value={username} onChange={(e) => setUsername(e.currentTarget.value)} />}
        <PasswordInput
          label={user ? 'New password' : 'Password'}
          required
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          description="At least 8 characters; tell it to the operator over a channel you trust"
          autoComplete="new-password"
        />
        <Button type="submit">{user ? 'Reset password' : 'Create operator'}</Button>
      </Stack>
    </form>
  );
}
