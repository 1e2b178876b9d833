import { Alert, Badge, Button, Checkbox, FileInput, Group, SegmentedControl, Select, Stack, Table, Text, Title } from '@mantine/core';
import { modals } from '@mantine/modals';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { parse as parseYaml } from 'yaml';
import { ApiError, api, describeError } from '../api/client';
import { currentSession } from '../api/session';
import type { PlannedChange, Project } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { ErrorAlert } from './actions';
import { QueryState } from './QueryState';
import { reachableClear } from '../layout/reachable-clear';

const OP_COLOR = { create: 'teal.9', update: 'blue.9', delete: 'red.9' } as const;

/** APIops: a project as a bundle file (export), and a bundle file planned then applied in one transaction. */
export function ApiopsScreen() {
  return (
    <Stack>
      <Title order={2}>APIops</Title>
      <Text c="dimmed">A bundle is a project as one file: its teams, roles, API proxies and credentials (secrets left out). Keep it in Git, review the plan, apply.</Text>
      <ExportBundle />
      <UploadBundle />
    </Stack>
  );
}

function ExportBundle() {
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => api<Project[]>('GET', '/projects') });
  const [projectId, setProjectId] = useState<string | null>(null);
  const [format, setFormat] = useState('yaml');
  const [error, setError] = useState<unknown>(null);
  const { can } = usePermissions(projectId ? { projectId } : {});
  const download = async () => {
    setError(null);
    const project = projects.data?.find((p) => p.id === projectId);
    if (!project) return;
    // The bundle is fetched with the operator's session (a plain link would carry none), then saved as a file.
    const response = await fetch(`/api/v1/projects/${project.id}/bundle?format=${format}`, {
      headers: { authorization: `Bearer ${currentSession()?.token ?? ''}`, 'x-idm-client': 'console' },
    });
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as { code?: string; title?: string; detail?: string };
      setError(new ApiError(response.status, problem.code ?? 'error', problem.title ?? response.statusText, problem.detail));
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement('a');
    link.href = url;
    link.download = `${project.name}.bundle.${format}`;
    link.click();
    URL.revokeObjectURL(url);
  };
  return (
    <Stack gap="xs">
      <Title order={3}>Export a project</Title>
      <QueryState error={projects.error} loading={projects.isLoading} />
      <ErrorAlert error={error} />
      {projects.data?.length === 0 && <Text c="dimmed">No projects to export yet.</Text>}
      {!!projects.data?.length && (
        <Group align="end">
          <Select label="Project" searchable data={projects.data.map((p) => ({ value: p.id, label: p.name }))} value={projectId} onChange={setProjectId} w={260} />
          <SegmentedControl aria-label="Format" data={['yaml', 'json']} value={format} onChange={setFormat} />
          <Button onClick={() => void download()} disabled={!projectId || !can('project:read')}>
            Download bundle
          </Button>
        </Group>
      )}
    </Stack>
  );
}

function readBundle(text: string, name: string): unknown {
  return /\.json$/i.test(name) ? JSON.parse(text) : parseYaml(text);
}

function UploadBundle() {
  const [file, setFile] = useState<File | null>(null);
  const [bundle, setBundle] = useState<unknown>(null);
  const [readError, setReadError] = useState<string | null>(null);
  const [prune, setPrune] = useState(false);
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => api<Project[]>('GET', '/projects') });
  const queryClient = useQueryClient();
  const plan = useMutation({ mutationFn: () => api<{ project: string; changes: PlannedChange[] }>('POST', '/apiops/plan', { bundle, prune }) });
  const apply = useMutation({
    mutationFn: () => api<{ project: string; applied: PlannedChange[] }>('POST', '/apiops/apply', { bundle, prune }),
    onSuccess: () => queryClient.invalidateQueries(),
  });
  const target = projects.data?.find((p) => p.name === plan.data?.project);
  const { can } = usePermissions(target ? { projectId: target.id } : {});
  // Applying writes the project's proxies and credentials, or creates the project: the plan says which.
  const mayApply = target ? can('proxy:write') && can('credential:write') : can('project:create');
  const choose = async (chosen: File | null) => {
    setFile(chosen);
    setBundle(null);
    setReadError(null);
    plan.reset();
    apply.reset();
    if (!chosen) return;
    try {
      setBundle(readBundle(await chosen.text(), chosen.name));
    } catch (err) {
      setReadError(`${chosen.name} is not readable YAML or JSON: ${describeError(err)}`);
    }
  };
  const confirmApply = () => {
    const deletes = plan.data?.changes.filter((c) => c.op === 'delete').length ?? 0;
    modals.openConfirmModal({
      title: 'Apply bundle',
      children: (
        <Text size="sm">
          {plan.data?.changes.length} change(s) to project {plan.data?.project} in one transaction{deletes ? `, deleting ${deletes}` : ''}. The Gateways get the new revision at
          once.
        </Text>
      ),
      labels: { confirm: 'Apply', cancel: 'Cancel' },
      confirmProps: deletes ? { color: 'red' } : {},
      onConfirm: () => apply.mutate(),
    });
  };
  return (
    <Stack gap="xs">
      <Title order={3}>Apply a bundle</Title>
      <Group align="end">
        <FileInput
          label="Bundle file"
          accept=".yaml,.yml,.json"
          value={file}
          onChange={(f) => void choose(f)}
          clearable
          clearButtonProps={reachableClear('the bundle file')}
          w={300}
        />
        <Checkbox label="Prune: delete what the bundle does not list" checked={prune} onChange={(e) => setPrune(e.currentTarget.checked)} mb={8} />
        <Button onClick={() => plan.mutate()} disabled={bundle === null} loading={plan.isPending}>
          Plan
        </Button>
      </Group>
      {readError && (
        <Alert color="red" role="alert">
          {readError}
        </Alert>
      )}
      <ErrorAlert error={plan.error ?? apply.error} />
      {plan.data && !apply.data && (
        <>
          <Changes label="Plan" changes={plan.data.changes} empty={`Project ${plan.data.project} already matches the bundle: nothing to apply.`} />
          {plan.data.changes.length > 0 && (
            <Group>
              {mayApply ? (
                <Button onClick={confirmApply} loading={apply.isPending}>
                  Apply {plan.data.changes.length} change(s)
                </Button>
              ) : (
                <Text size="sm">You may plan this bundle but not apply it to project {plan.data.project}.</Text>
              )}
            </Group>
          )}
        </>
      )}
      {apply.data && (
        <>
          <Alert color="green" title="Applied">
            Project {apply.data.project} now matches the bundle.
          </Alert>
          <Changes label="Applied" changes={apply.data.applied} empty="Nothing changed." />
        </>
      )}
    </Stack>
  );
}

function Changes({ label, changes, empty }: { label: string; changes: PlannedChange[]; empty: string }) {
  if (changes.length === 0) return <Text c="dimmed">{empty}</Text>;
  return (
    <Table.ScrollContainer minWidth={480} type="native">
      <Table striped aria-label={label}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Change</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Name</Table.Th>
            <Table.Th>Fields</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {changes.map((c) => (
            <Table.Tr key={`${c.op}-${c.kind}-${c.name}`}>
              <Table.Td>
                <Badge variant="outline" color={OP_COLOR[c.op]}>
                  {c.op}
                </Badge>
              </Table.Td>
              <Table.Td>{c.kind.replace('_', ' ')}</Table.Td>
              <Table.Td>{c.name}</Table.Td>
              <Table.Td>{c.fields?.join(', ') ?? ''}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
