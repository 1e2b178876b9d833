import { Button, Group, Modal, SegmentedControl, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../../api/client';
import type { Project, RoleBinding, ScopeType, Team } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { QueryState } from '../QueryState';
import { groupsQuery } from './GroupsPanel';
import { rolesQuery } from './RolesPanel';
import { usersQuery } from './UsersPanel';

const projectsQuery = { queryKey: ['projects'], queryFn: () => api<Project[]>('GET', '/projects') };

/** Who holds which role where: a role bound to an operator or a group at the system, a project or a team. */
export function RoleBindingsPanel() {
  const bindings = useQuery({ queryKey: ['role-bindings'], queryFn: () => api<RoleBinding[]>('GET', '/role-bindings') });
  const roles = useQuery(rolesQuery);
  const users = useQuery(usersQuery);
  const groups = useQuery(groupsQuery);
  const projects = useQuery(projectsQuery);
  const { can } = usePermissions();
  // The Manager allows a binding where the operator holds role:bind and every permission of the role; the system scope decides the button here.
  const bindable = can('role:bind');
  const [creating, setCreating] = useState(false);
  const action = useAction([['role-bindings']]);
  const roleName = (id: string) => roles.data?.find((r) => r.id === id)?.name ?? id;
  const subjectName = (b: RoleBinding) =>
    b.subject.type === 'user'
      ? `operator ${users.data?.find((u) => u.id === b.subject.id)?.username ?? b.subject.id}`
      : `group ${groups.data?.find((g) => g.id === b.subject.id)?.name ?? b.subject.id}`;
  const scopeName = (b: RoleBinding) => {
    if (b.scope.type === 'system') return 'system';
    const project = projects.data?.find((p) => p.id === b.projectId)?.name ?? b.projectId;
    return b.scope.type === 'project' ? `project ${project}` : `team ${b.scope.id} in project ${project}`;
  };
  const remove = (b: RoleBinding) =>
    confirmDestructive(
      'Remove role binding',
      `${subjectName(b)} no longer holds ${roleName(b.roleId)} at ${scopeName(b)}.`,
      'Remove',
      () => void action.run(() => api('DELETE', `/role-bindings/${b.id}`), 'Role binding removed'),
    );
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Role bindings</Title>
        {bindable && <Button onClick={() => setCreating(true)}>Bind a role</Button>}
      </Group>
      <QueryState error={bindings.error} loading={bindings.isLoading} />
      <ErrorAlert error={action.error} />
      {bindings.data?.length === 0 && <Text c="dimmed">No role bindings you may see. Bind a role to an operator or a group to let them work.</Text>}
      {!!bindings.data?.length && (
        <Table.ScrollContainer minWidth={560} type="native">
          <Table striped aria-label="Role bindings">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Role</Table.Th>
                <Table.Th>Held by</Table.Th>
                <Table.Th>At</Table.Th>
                {bindable && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {bindings.data.map((b) => (
                <Table.Tr key={b.id}>
                  <Table.Td>{roleName(b.roleId)}</Table.Td>
                  <Table.Td>{subjectName(b)}</Table.Td>
                  <Table.Td>{scopeName(b)}</Table.Td>
                  {bindable && (
                    <Table.Td>
                      <Button size="compact-xs" variant="light" color="red" onClick={() => remove(b)} aria-label={`Remove ${roleName(b.roleId)} of ${subjectName(b)}`}>
                        Remove
                      </Button>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={creating} onClose={() => setCreating(false)} title="Bind a role">
        <BindingForm onDone={() => setCreating(false)} />
      </Modal>
    </Stack>
  );
}

function BindingForm({ onDone }: { onDone: () => void }) {
  const roles = useQuery(rolesQuery);
  const users = useQuery(usersQuery);
  const groups = useQuery(groupsQuery);
  const projects = useQuery(projectsQuery);
  const [roleId, setRoleId] = useState<string | null>(null);
  const [subjectType, setSubjectType] = useState<'user' | 'group'>('user');
  const [subjectId, setSubjectId] = useState<string | null>(null);
  const [scopeType, setScopeType] = useState<ScopeType>('project');
  const [projectId, setProjectId] = useState<string | null>(null);
  const [teamId, setTeamId] = useState<string | null>(null);
  const teams = useQuery({ queryKey: ['teams', projectId], queryFn: () => api<Team[]>('GET', `/projects/${projectId}/teams`), enabled: scopeType === 'team' && !!projectId });
  const action = useAction([['role-bindings']]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const scopeId = scopeType === 'system' ? null : scopeType === 'project' ? projectId : teamId;
    if (await action.run(() => api('POST', '/role-bindings', { roleId, subject: { type: subjectType, id: subjectId }, scope: { type: scopeType, id: scopeId } }), 'Role bound'))
      onDone();
  };
  const subjects = subjectType === 'user' ? (users.data ?? []).map((u) => ({ value: u.id, label: u.username })) : (groups.data ?? []).map((g) => ({ value: g.id, label: g.name }));
  return (
    <form onSubmit={(e) => void submit(e)}>
      <Stack>
        <ErrorAlert error={action.error} />
        <Select label="Role" required searchable data={(roles.data ?? []).map((r) => ({ value: r.id, label: r.name }))} value={roleId} onChange={setRoleId} />
        <Stack gap={4}>
          <Text size="sm" fw={500} id="binding-subject-type">
            Held by
          </Text>
          <SegmentedControl
            aria-labelledby="binding-subject-type"
            data={[
              { value: 'user', label: 'Operator' },
              { value: 'group', label: 'Group' },
            ]}
            value={subjectType}
            onChange={(v) => {
              setSubjectType(v as 'user' | 'group');
              setSubjectId(null);
            }}
          />
        </Stack>
        <Select label={subjectType === 'user' ? 'Operator' : 'Group'} required searchable data={subjects} value={subjectId} onChange={setSubjectId} />
        <Stack gap={4}>
          <Text size="sm" fw={500} id="binding-scope-type">
            Scope
          </Text>
          <SegmentedControl
            aria-labelledby="binding-scope-type"
            data={[
              { value: 'system', label: 'System' },
              { value: 'project', label: 'Project' },
              { value: 'team', label: 'Team' },
            ]}
            value={scopeType}
            onChange={(v) => setScopeType(v as ScopeType)}
          />
        </Stack>
        {scopeType !== 'system' && (
          <Select label="Project" required searchable data={(projects.data ?? []).map((p) => ({ value: p.id, label: p.name }))} value={projectId} onChange={setProjectId} />
        )}
        {scopeType === 'team' && <Select label="Team" required data={(teams.data ?? []).map((t) => ({ value: t.id, label: t.name }))} value={teamId} onChange={setTeamId} />}
        <Button type="submit">Bind role</Button>
      </Stack>
    </form>
  );
}
