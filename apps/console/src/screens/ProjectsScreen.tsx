import { Alert, Anchor, Button, Group, Modal, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { api, describeError } from '../api/client';
import type { Project } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { QueryState } from './QueryState';

export function ProjectsScreen() {
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => api<Project[]>('GET', '/projects') });
  const { can } = usePermissions();
  const [creating, { open, close }] = useDisclosure(false);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Projects</Title>
        {can('project:create') && <Button onClick={open}>New project</Button>}
      </Group>
      <QueryState error={projects.error} loading={projects.isLoading} />
      {projects.data?.length === 0 && (
        <Text c="dimmed">
          {can('project:create')
            ? 'No projects yet. Create one to hold your API proxies and credentials.'
            : 'You are not a member of any project yet: ask an administrator for a role binding.'}
        </Text>
      )}
      {!!projects.data?.length && (
        <Table.ScrollContainer minWidth={560} type="native">
          <Table striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Description</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {projects.data.map((p) => (
                <Table.Tr key={p.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/projects/${p.id}`}>
                      {p.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{p.description}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={creating} onClose={close} title="New project">
        <CreateProjectForm onDone={close} />
      </Modal>
    </Stack>
  );
}

function CreateProjectForm({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: () => api<Project>('POST', '/projects', { name, ...(description ? { description } : {}) }),
    onSuccess: async (project) => {
      await queryClient.invalidateQueries({ queryKey: ['projects'] });
      onDone();
      void navigate(`/projects/${project.id}`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        {create.error && (
          <Alert color="red" role="alert">
            {describeError(create.error)}
          </Alert>
        )}
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} description="Lowercase letters, digits and dashes" />
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
        <Button type="submit" loading={create.isPending}>
          Create project
        </Button>
      </Stack>
    </form>
  );
}
