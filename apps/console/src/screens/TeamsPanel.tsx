import { Button, Modal, Stack, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Team } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from './actions';
import { EntityListPanel, RowAction } from '../layout/EntityListPanel';

/** A project's teams: who owns which proxies and credentials inside it. */
export function TeamsPanel({ projectId }: { projectId: string }) {
  const teams = useQuery({ queryKey: ['teams', projectId], queryFn: () => api<Team[]>('GET', `/projects/${projectId}/teams`) });
  const { can } = usePermissions({ projectId });
  const [creating, { open, close }] = useDisclosure(false);
  const action = useAction([['teams', projectId]]);
  const remove = (team: Team) =>
    confirmDestructive(
      'Delete team',
      `The team ${team.name} and the role bindings on it are deleted. The Manager refuses while the team still owns proxies or credentials.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/projects/${projectId}/teams/${team.id}`), `Team ${team.name} deleted`),
    );
  return (
    <EntityListPanel
      title="Teams"
      label="Teams"
      rows={teams.data}
      rowKey={(t) => t.id}
      loading={teams.isLoading}
      loadError={teams.error}
      actionError={action.error}
      empty="No teams yet. A team owns some of the project's proxies and credentials; bind the team-member role to let its people work on them alone."
      create={can('team:write') ? { label: 'New team', onClick: open } : undefined}
      columns={[
        { header: 'Name', cell: (t) => t.name },
        { header: 'Description', cell: (t) => t.description },
      ]}
      actions={
        can('team:write')
          ? (t) => (
              <RowAction label={`Delete team ${t.name}`} onClick={() => remove(t)} destructive>
                Delete
              </RowAction>
            )
          : undefined
      }
    >
      <Modal opened={creating} onClose={close} title="New team">
        <CreateTeamForm projectId={projectId} onDone={close} />
      </Modal>
    </EntityListPanel>
  );
}

function CreateTeamForm({ projectId, onDone }: { projectId: string; onDone: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const action = useAction([['teams', projectId]]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await action.run(() => api('POST', `/projects/${projectId}/teams`, { name, ...(description ? { description } : {}) }), `Team ${name} created`)) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <Stack>
        <ErrorAlert error={action.error} />
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} description="Lowercase letters, digits and dashes" />
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
        <Button type="submit">Create team</Button>
      </Stack>
    </form>
  );
}
