import { Badge, Button, Group, Modal, MultiSelect, Stack, Text, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../../api/client';
import type { Role } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { EntityListPanel, RowAction } from '../../layout/EntityListPanel';

export const rolesQuery = { queryKey: ['roles'], queryFn: () => api<Role[]>('GET', '/roles') };

/** Every permission there is: the built-in roles together hold them all (system-admin alone does). */
function allPermissions(roles: Role[]): string[] {
  return [...new Set(roles.filter((r) => r.builtIn).flatMap((r) => r.permissions))].sort();
}

/** Built-in roles (fixed) and custom roles made of named permissions. */
export function RolesPanel() {
  const roles = useQuery(rolesQuery);
  const { can } = usePermissions();
  const writable = can('role:write');
  const [editing, setEditing] = useState<Role | 'new' | null>(null);
  const action = useAction([['roles'], ['role-bindings']]);
  const remove = (role: Role) =>
    confirmDestructive(
      'Delete role',
      `The role ${role.name} and every binding of it are deleted; who held it loses its permissions.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/roles/${role.id}`), `Role ${role.name} deleted`),
    );
  return (
    <EntityListPanel
      title="Roles"
      label="Roles"
      rows={roles.data}
      rowKey={(r) => r.id}
      loading={roles.isLoading}
      loadError={roles.error}
      actionError={action.error}
      empty="No roles you may see."
      create={writable ? { label: 'New role', onClick: () => setEditing('new') } : undefined}
      columns={[
        {
          header: 'Name',
          cell: (r) => (
            <>
              <Group gap={4}>
                {r.name}
                {r.builtIn && (
                  <Badge size="xs" variant="outline">
                    built-in
                  </Badge>
                )}
              </Group>
              {r.description && (
                <Text size="xs" c="dimmed">
                  {r.description}
                </Text>
              )}
            </>
          ),
        },
        { header: 'Permissions', cell: (r) => <Text size="xs">{r.permissions.join(', ')}</Text> },
      ]}
      actions={
        writable
          ? (r) =>
              !r.builtIn && (
                <>
                  <RowAction label={`Edit role ${r.name}`} onClick={() => setEditing(r)}>
                    Edit
                  </RowAction>
                  <RowAction label={`Delete role ${r.name}`} onClick={() => remove(r)} destructive>
                    Delete
                  </RowAction>
                </>
              )
          : undefined
      }
    >
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === 'new' ? 'New role' : `Role ${editing?.name ?? ''}`}>
        {editing !== null && <RoleForm role={editing === 'new' ? null : editing} permissions={allPermissions(roles.data ?? [])} onDone={() => setEditing(null)} />}
      </Modal>
    </EntityListPanel>
  );
}

function RoleForm({ role, permissions, onDone }: { role: Role | null; permissions: string[]; onDone: () => void }) {
  const [name, setName] = useState(role?.name ?? '');
  const [description, setDescription] = useState(role?.description ?? '');
  const [chosen, setChosen] = useState<string[]>(role?.permissions ?? []);
  const action = useAction([['roles']]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = { ...(description ? { description } : {}), permissions: chosen };
    const done = role
      ? await action.run(() => api('PATCH', `/roles/${role.id}`, body), `Role ${role.name} saved`)
      : await action.run(() => api('POST', '/roles', { name, ...body }), `Role ${name} created`);
    if (done) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <Stack>
        <ErrorAlert error={action.error} />
        <TextInput
          label="Name"
          required
          disabled={role !== null}
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          description="Lowercase letters, digits and dashes"
        />
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
        <MultiSelect label="Permissions" required searchable data={permissions} value={chosen} onChange={setChosen} description="What a binding of this role allows at its scope" />
        <Button type="submit">{role ? 'Save role' : 'Create role'}</Button>
      </Stack>
    </form>
  );
}
