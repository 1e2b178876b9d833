import { Anchor, Badge, Group, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api } from '../api/client';
import type { ApiProxy, Project } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { CredentialsPanel } from './CredentialsPanel';
import { TabbedScreen } from '../layout/TabbedScreen';
import { EntityListPanel } from '../layout/EntityListPanel';
import { EndUsersPanel } from './EndUsersPanel';
import { QueryState } from './QueryState';
import { RequestsPanel } from './RequestsPanel';
import { SecretsPanel } from './SecretsPanel';
import { TeamsPanel } from './TeamsPanel';
import { BruteForceSettingsPanel } from './project/BruteForceSettingsPanel';
import { OidcClientsPanel } from './project/OidcClientsPanel';
import { RegistrationPanel } from './project/RegistrationPanel';

export function ProjectScreen() {
  const { projectId = '' } = useParams();
  const project = useQuery({ queryKey: ['project', projectId], queryFn: () => api<Project>('GET', `/projects/${projectId}`) });
  if (!project.data) return <QueryState error={project.error} loading={project.isLoading} />;
  return (
    <TabbedScreen
      title={`Project ${project.data.name}`}
      intro={project.data.description && <Text c="dimmed">{project.data.description}</Text>}
      tabs={[
        { value: 'proxies', label: 'API proxies', panel: <ProxiesPanel projectId={projectId} /> },
        { value: 'credentials', label: 'Credentials', panel: <CredentialsPanel projectId={projectId} /> },
        { value: 'end-users', label: 'End users', panel: <EndUsersPanel projectId={projectId} /> },
        { value: 'oidc-clients', label: 'OIDC clients', panel: <OidcClientsPanel projectId={projectId} /> },
        { value: 'registration', label: 'Registration', panel: <RegistrationPanel projectId={projectId} /> },
        { value: 'requests', label: 'Requests', panel: <RequestsPanel projectId={projectId} /> },
        { value: 'secrets', label: 'Secrets', panel: <SecretsPanel projectId={projectId} /> },
        { value: 'teams', label: 'Teams', panel: <TeamsPanel projectId={projectId} /> },
        { value: 'brute-force', label: 'Brute force', panel: <BruteForceSettingsPanel projectId={projectId} /> },
      ]}
    />
  );
}

function ProxiesPanel({ projectId }: { projectId: string }) {
  const proxies = useQuery({ queryKey: ['proxies', projectId], queryFn: () => api<ApiProxy[]>('GET', `/projects/${projectId}/proxies`) });
  const { can } = usePermissions({ projectId });
  const navigate = useNavigate();
  return (
    <EntityListPanel
      title="API proxies"
      label="API proxies"
      rows={proxies.data}
      rowKey={(p) => p.id}
      loading={proxies.isLoading}
      loadError={proxies.error}
      empty="No API proxies yet. A proxy routes a base path on the Gateway to your upstream through a chain of policies."
      create={can('proxy:write') ? { label: 'New API proxy', onClick: () => void navigate(`/projects/${projectId}/proxies/new`) } : undefined}
      columns={[
        {
          header: 'Name',
          cell: (p) => (
            <Anchor component={Link} to={`/projects/${projectId}/proxies/${p.id}`}>
              {p.name}
            </Anchor>
          ),
        },
        { header: 'Base path', cell: (p) => <code>{p.basePath}</code> },
        { header: 'Policies', cell: (p) => p.policies.map((x) => x.type).join(' → ') || '—' },
        {
          header: 'Deployed to',
          cell: (p) => (
            <Group gap={4}>
              {p.environments.map((e) => (
                <Badge key={e} variant="light">
                  {e}
                </Badge>
              ))}
            </Group>
          ),
        },
      ]}
    />
  );
}
