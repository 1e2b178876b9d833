import { Alert, Button, Group, MultiSelect, Stack, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { ApiError, api, describeError } from '../api/client';
import type { ApiProxy, Environment, PolicySpec, PolicyType } from '../api/types';
import { PolicyChainEditor } from '../forms/PolicyChainEditor';
import { issuesOutside, type FieldIssue } from '../forms/server-errors';
import { usePermissions } from '../permissions/permissions';
import { QueryState } from './QueryState';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const FIELDS = ['name', 'basePath', 'upstreamUrl', 'methods', 'environments', 'policies'];

interface Draft {
  name: string;
  basePath: string;
  upstreamUrl: string;
  methods: string[];
  environments: string[];
  policies: PolicySpec[];
}

const EMPTY: Draft = { name: '', basePath: '/', upstreamUrl: 'https://', methods: [...METHODS], environments: [], policies: [{ type: 'api-key', config: {} }] };

/** Create (`/proxies/new`) or edit one API proxy, its deployments and its policy chain. */
export function ProxyScreen() {
  const { projectId = '', proxyId = 'new' } = useParams();
  const isNew = proxyId === 'new';
  const proxy = useQuery({ queryKey: ['proxy', proxyId], queryFn: () => api<ApiProxy>('GET', `/projects/${projectId}/proxies/${proxyId}`), enabled: !isNew });
  const policyTypes = useQuery({ queryKey: ['policy-types'], queryFn: () => api<PolicyType[]>('GET', '/policy-types'), staleTime: Infinity });
  const environments = useQuery({ queryKey: ['environments'], queryFn: () => api<Environment[]>('GET', '/environments') });
  const { can } = usePermissions({ projectId });
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  useEffect(() => {
    if (!proxy.data) return;
    const { name, basePath, upstreamUrl, methods, environments, policies } = proxy.data;
    setDraft({ name, basePath, upstreamUrl, methods, environments, policies });
  }, [proxy.data]);

  const save = useMutation({
    mutationFn: () => (isNew ? api<ApiProxy>('POST', `/projects/${projectId}/proxies`, draft) : api<ApiProxy>('PATCH', `/projects/${projectId}/proxies/${proxyId}`, draft)),
    onMutate: () => setIssues([]),
    onError: (err) => setIssues(err instanceof ApiError ? err.errors : []),
    onSuccess: async (saved) => {
      await queryClient.invalidateQueries({ queryKey: ['proxies', projectId] });
      queryClient.setQueryData(['proxy', saved.id], saved);
      notifications.show({ message: `API proxy ${saved.name} saved`, color: 'green' });
      if (isNew) void navigate(`/projects/${projectId}/proxies/${saved.id}`, { replace: true });
    },
  });
  if (!isNew && !proxy.data) return <QueryState error={proxy.error} loading={proxy.isLoading} />;
  const editable = can('proxy:write');
  const fieldError = (field: string) => issues.find((i) => i.path === field || i.path.startsWith(`${field}.`))?.message;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft({ ...draft, [key]: value });
  return (
    <form onSubmit={submit} noValidate>
      <Stack maw={900}>
        <Title order={2}>{isNew ? 'New API proxy' : `API proxy ${draft.name}`}</Title>
        {save.error && (
          <Alert color="red" role="alert" title="Not saved">
            {describeError(save.error)}
            {issuesOutside(issues, FIELDS).map((i) => (
              <div key={i.path}>
                {i.path}: {i.message}
              </div>
            ))}
          </Alert>
        )}
        <fieldset disabled={!editable} style={{ border: 0, padding: 0, margin: 0 }}>
          <Stack>
            <TextInput label="Name" required value={draft.name} error={fieldError('name')} onChange={(e) => set('name', e.currentTarget.value)} />
            <TextInput
              label="Base path"
              required
              value={draft.basePath}
              error={fieldError('basePath')}
              onChange={(e) => set('basePath', e.currentTarget.value)}
              description="Where the Gateway serves it, e.g. /orders"
            />
            <TextInput label="Upstream URL" required value={draft.upstreamUrl} error={fieldError('upstreamUrl')} onChange={(e) => set('upstreamUrl', e.currentTarget.value)} />
            <MultiSelect label="Methods" data={METHODS} value={draft.methods} error={fieldError('methods')} onChange={(v) => set('methods', v)} />
            <MultiSelect
              label="Deployed to environments"
              data={(environments.data ?? []).map((e) => e.name)}
              value={draft.environments}
              error={fieldError('environments')}
              onChange={(v) => set('environments', v)}
              disabled={!can('proxy:deploy') && !editable}
            />
          </Stack>
        </fieldset>
        <PolicyChainEditor policyTypes={policyTypes.data ?? []} value={draft.policies} onChange={(p) => set('policies', p)} serverIssues={issues} readOnly={!editable} />
        {editable && (
          <Group>
            <Button type="submit" loading={save.isPending}>
              {isNew ? 'Create API proxy' : 'Save changes'}
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}
