import { Badge, Button, Group, Modal, Stack, Table, Text, Title } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import type { KeyManager, Project } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { QueryState } from '../QueryState';
import { KeyManagerForm } from './KeyManagerForm';

const TOKEN_TYPES: Record<KeyManager['tokenTypes'], string> = { jwt: 'JWT', opaque: 'Opaque (introspection)', both: 'JWT and opaque' };

/**
 * Key managers: the token issuers the Gateways trust (ours, Keycloak, Entra ID, Okta…). System
 * ones serve every project, a project's only that project; proxies pick the ones they accept in
 * jwt-auth / oauth2-auth. Secrets are write-only: the list says only whether one is set.
 */
export function KeyManagersScreen() {
  const keyManagers = useQuery({ queryKey: ['key-managers'], queryFn: () => api<KeyManager[]>('GET', '/key-managers') });
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => api<Project[]>('GET', '/projects') });
  const { can } = usePermissions();
  const scopes = useCreatableScopes(can('key-manager:write'), projects.data ?? []);
  const [editing, setEditing] = useState<KeyManager | 'new' | null>(null);
  const action = useAction([['key-managers']]);
  const projectName = (id: string | null) => (id === null ? 'System' : (projects.data?.find((p) => p.id === id)?.name ?? id));
  const remove = (km: KeyManager) =>
    confirmDestructive(
      'Delete key manager',
      `${km.name} is deleted: every proxy that lists it refuses its tokens from the next publication on.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/key-managers/${km.id}`), `Key manager ${km.name} deleted`),
    );
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Key managers</Title>
        {scopes.length > 0 && <Button onClick={() => setEditing('new')}>New key manager</Button>}
      </Group>
      <QueryState error={keyManagers.error} loading={keyManagers.isLoading} />
      <ErrorAlert error={action.error} />
      {keyManagers.data?.length === 0 && (
        <Text c="dimmed">
          No key managers yet. A key manager is a token issuer the Gateways trust, such as your Keycloak, Entra ID or Okta: add one by its discovery URL, then list it in a
          proxy&apos;s jwt-auth or oauth2-auth policy.
        </Text>
      )}
      {!!keyManagers.data?.length && (
        <Table.ScrollContainer minWidth={720} type="native">
          <Table striped aria-label="Key managers">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Scope</Table.Th>
                <Table.Th>Issuer</Table.Th>
                <Table.Th>Tokens</Table.Th>
                <Table.Th>Roles</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keyManagers.data.map((km) => (
                <Table.Tr key={km.id}>
                  <Table.Td>{km.name}</Table.Td>
                  <Table.Td>{projectName(km.projectId)}</Table.Td>
                  <Table.Td style={{ wordBreak: 'break-all' }}>{km.type === 'builtin' ? 'our token service' : km.issuer}</Table.Td>
                  <Table.Td>{TOKEN_TYPES[km.tokenTypes]}</Table.Td>
                  <Table.Td>{km.roleList ? `${km.roleList.type === 'ALLOW' ? 'only' : 'all but'} ${km.roleList.roles.join(', ')}` : 'any'}</Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={km.enabled ? 'teal.9' : 'gray.8'}>
                      {km.enabled ? 'enabled' : 'disabled'}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <RowActions keyManager={km} onEdit={() => setEditing(km)} onDelete={() => remove(km)} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === 'new' ? 'New key manager' : `Key manager ${editing?.name ?? ''}`}
        size="xl"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        {editing !== null && <KeyManagerForm keyManager={editing === 'new' ? null : editing} scopes={scopes} onDone={() => setEditing(null)} />}
      </Modal>
    </Stack>
  );
}

/**
 * Where the operator may create a key manager: System when they hold key-manager:write there,
 * and each project where they hold it (a project owner creates their project's own). Asked per
 * project with the same query the permission-aware buttons use, so the answers are shared.
 */
function useCreatableScopes(system: boolean, projects: Project[]): { value: string; label: string }[] {
  const answers = useQueries({
    queries: projects.map((p) => ({
      queryKey: ['me', 'permissions', p.id, null],
      queryFn: () => api<{ permissions: string[] }>('GET', `/me/permissions?projectId=${encodeURIComponent(p.id)}`),
      staleTime: 30_000,
    })),
  });
  const writable = projects.filter((_, i) => answers[i]?.data?.permissions.includes('key-manager:write'));
  return [...(system ? [{ value: 'system', label: 'System (every project)' }] : []), ...writable.map((p) => ({ value: p.id, label: `Project ${p.name}` }))];
}

/** Edit and delete where the operator holds key-manager:write at the key manager's scope; view otherwise. */
function RowActions({ keyManager, onEdit, onDelete }: { keyManager: KeyManager; onEdit: () => void; onDelete: () => void }) {
  const { can } = usePermissions(keyManager.projectId ? { projectId: keyManager.projectId } : {});
  const writable = can('key-manager:write');
  return (
    <Group gap="xs" wrap="nowrap">
      <Button size="compact-xs" variant="light" onClick={onEdit} aria-label={`${writable ? 'Edit' : 'View'} key manager ${keyManager.name}`}>
        {writable ? 'Edit' : 'View'}
      </Button>
      {writable && (
        <Button size="compact-xs" variant="light" color="red" onClick={onDelete} aria-label={`Delete key manager ${keyManager.name}`}>
          Delete
        </Button>
      )}
    </Group>
  );
}
