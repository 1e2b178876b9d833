import { Badge, Button, Group, Modal, Select, Stack, Text, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../../api/client';
import type { Group as OperatorGroup } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { EntityListPanel, RowAction } from '../../layout/EntityListPanel';
import { usersQuery } from './UsersPanel';

export const groupsQuery = { queryKey: ['groups'], queryFn: () => api<OperatorGroup[]>('GET', '/groups') };

/** Groups of operators: a role bound to a group holds for each member. */
export function GroupsPanel() {
  const groups = useQuery(groupsQuery);
  const users = useQuery(usersQuery);
  const { can } = usePermissions();
  const writable = can('user:write');
  const [creating, setCreating] = useState(false);
  const action = useAction([['groups']]);
  const username = (id: string) => users.data?.find((u) => u.id === id)?.username ?? id;
  const remove = (group: OperatorGroup) =>
    confirmDestructive(
      'Delete group',
      `The group ${group.name} and every role bound to it are deleted; its members lose what the group gave them.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/groups/${group.id}`), `Group ${group.name} deleted`),
    );
  const removeMember = (group: OperatorGroup, userId: string) =>
    confirmDestructive(
      'Remove from group',
      `${username(userId)} loses the roles bound to ${group.name}.`,
      'Remove',
      () => void action.run(() => api('DELETE', `/groups/${group.id}/members/${userId}`)),
    );
  return (
    <EntityListPanel
      title="Groups"
      label="Groups"
      rows={groups.data}
      rowKey={(g) => g.id}
      loading={groups.isLoading}
      loadError={groups.error}
      actionError={action.error}
      empty="No groups yet. Put operators who do the same work in a group and bind a role to the group once."
      create={writable ? { label: 'New group', onClick: () => setCreating(true) } : undefined}
      columns={[
        {
          header: 'Name',
          cell: (g) => (
            <>
              {g.name}
              {g.description && (
                <Text size="xs" c="dimmed">
                  {g.description}
                </Text>
              )}
            </>
          ),
        },
        {
          header: 'Members',
          cell: (g) => (
            <Group gap={4}>
              {g.members.length === 0 && <Text size="sm">none</Text>}
              {g.members.map((m) =>
                writable ? (
                  <Button key={m} size="compact-xs" variant="default" onClick={() => removeMember(g, m)} aria-label={`Remove ${username(m)} from ${g.name}`}>
                    {username(m)} ×
                  </Button>
                ) : (
                  <Badge key={m} variant="light">
                    {username(m)}
                  </Badge>
                ),
              )}
            </Group>
          ),
        },
      ]}
      actions={
        writable
          ? (g) => (
              <>
                <AddMember
                  group={g}
                  candidates={(users.data ?? []).filter((u) => !g.members.includes(u.id))}
                  onAdd={(userId) => action.run(() => api('POST', `/groups/${g.id}/members`, { userId }))}
                />
                <RowAction label={`Delete group ${g.name}`} onClick={() => remove(g)} destructive>
                  Delete
                </RowAction>
              </>
            )
          : undefined
      }
    >
      <Modal opened={creating} onClose={() => setCreating(false)} title="New group">
        <CreateGroupForm onDone={() => setCreating(false)} />
      </Modal>
    </EntityListPanel>
  );
}

function AddMember({ group, candidates, onAdd }: { group: OperatorGroup; candidates: { id: string; username: string }[]; onAdd: (userId: string) => Promise<boolean> }) {
  const [value, setValue] = useState<string | null>(null);
  return (
    <Select
      size="xs"
      w={170}
      aria-label={`Add an operator to ${group.name}`}
      placeholder="Add an operator"
      searchable
      data={candidates.map((u) => ({ value: u.id, label: u.username }))}
      value={value}
      onChange={(userId) => {
        setValue(null);
        if (userId) void onAdd(userId);
      }}
    />
  );
}

function CreateGroupForm({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const action = useAction([['groups']]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await action.run(() => api('POST', '/groups', { name, ...(description ? { description } : {}) }), `Group ${name} created`)) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <Stack>
        <ErrorAlert error={action.error} />
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} description="Lowercase letters, digits and dashes" />
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
        <Button type="submit">Create group</Button>
      </Stack>
    </form>
  );
}
