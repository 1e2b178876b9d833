import { Alert, Button, Code, Group, Modal, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { modals } from '@mantine/modals';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, describeError } from '../api/client';
import type { Credential, IssuedApiKey } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { RowAction } from '../layout/EntityListPanel';
import { KeysetPager } from '../layout/KeysetPager';
import { ShownOnce } from '../layout/ShownOnce';
import { CredentialRulesForm } from './credentials/CredentialRulesForm';
import { OidcClientPanel } from './credentials/OidcClientPanel';
import { TokenSettingsForm } from './credentials/TokenSettingsForm';
import { QueryState } from './QueryState';
import { useEscapeUnderConfirmation } from './actions';

const PAGE = 50;

/** A project's credentials, a page at a time (keyset by username, as the API pages them). */
export function CredentialsPanel({ projectId }: { projectId: string }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors.at(-1);
  const credentials = useQuery({
    queryKey: ['credentials', projectId, after ?? null],
    queryFn: () => api<Credential[]>('GET', `/projects/${projectId}/credentials?limit=${PAGE}${after ? `&after=${encodeURIComponent(after)}` : ''}`),
  });
  const { can } = usePermissions({ projectId });
  const [creating, setCreating] = useState(false);
  const [shownKey, setShownKey] = useState<{ username: string; key: IssuedApiKey } | null>(null);
  const list = credentials.data ?? [];
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Credentials</Title>
        {can('credential:write') && <Button onClick={() => setCreating(true)}>New credential</Button>}
      </Group>
      <QueryState error={credentials.error} loading={credentials.isLoading} />
      {credentials.data?.length === 0 && !after && (
        <Text c="dimmed">No credentials yet. A credential is an application or user that calls your proxies with an API key, a password or a certificate.</Text>
      )}
      {list.length > 0 && (
        <Table.ScrollContainer minWidth={560} type="native">
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Username</Table.Th>
                <Table.Th>Enabled</Table.Th>
                <Table.Th>API keys</Table.Th>
                <Table.Th>Settings</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((c) => (
                <CredentialRow key={c.id} projectId={projectId} credential={c} onKeyIssued={(key) => setShownKey({ username: c.username, key })} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <KeysetPager cursors={cursors} onChange={setCursors} lastKey={list.at(-1)?.username} full={list.length === PAGE} />
      <Modal opened={creating} onClose={() => setCreating(false)} title="New credential">
        <CreateCredentialForm
          projectId={projectId}
          onCreated={(username, key) => {
            setCreating(false);
            if (key) setShownKey({ username, key });
          }}
        />
      </Modal>
      <Modal opened={shownKey !== null} onClose={() => setShownKey(null)} title="New API key" closeOnClickOutside={false}>
        {shownKey && <ShownKey username={shownKey.username} apiKey={shownKey.key} />}
      </Modal>
    </Stack>
  );
}

/** The key in clear, this once: the Manager keeps only its hash, and the console forgets it on close. */
function ShownKey({ username, apiKey }: { username: string; apiKey: IssuedApiKey }) {
  return (
    <ShownOnce value={apiKey.key} copyLabel="Copy key" testId="issued-api-key">
      This is the only time the key of {username} is shown. Store it where the application reads its secrets.
    </ShownOnce>
  );
}

function CreateCredentialForm({ projectId, onCreated }: { projectId: string; onCreated: (username: string, key?: IssuedApiKey) => void }) {
  const [username, setUsername] = useState('');
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: () => api<Credential & { apiKey?: IssuedApiKey }>('POST', `/projects/${projectId}/credentials`, { username, issueApiKey: true }),
    onSuccess: async (created) => {
      await queryClient.invalidateQueries({ queryKey: ['credentials', projectId] });
      onCreated(created.username, created.apiKey);
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
        <TextInput
          label="Username"
          required
          value={username}
          onChange={(e) => setUsername(e.currentTarget.value)}
          description="The application's name; an API key is issued with it"
        />
        <Button type="submit" loading={create.isPending}>
          Create credential
        </Button>
      </Stack>
    </form>
  );
}

/** What a credential's settings dialog edits, by the title it has. */
const EDITORS = { rules: 'Rules', tokens: 'Token settings', oidc: 'OIDC client settings' } as const;

function CredentialRow({ projectId, credential, onKeyIssued }: { projectId: string; credential: Credential; onKeyIssued: (key: IssuedApiKey) => void }) {
  const { can } = usePermissions({ projectId });
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<keyof typeof EDITORS | null>(null);
  // Its editors may confirm over this dialog (stop being an OIDC client): Escape closes that alone.
  const escape = useEscapeUnderConfirmation(editing !== null, () => setEditing(null));
  const base = `/projects/${projectId}/credentials/${credential.id}`;
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['credentials', projectId] });
  const run = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      await refresh();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const rotate = (keyId: string, prefix: string) =>
    modals.openConfirmModal({
      title: 'Rotate API key',
      children: <Text size="sm">A new key is issued now; the key {prefix}… keeps working for 24 hours so the application can switch.</Text>,
      labels: { confirm: 'Rotate', cancel: 'Cancel' },
      onConfirm: () => void run(async () => onKeyIssued(await api<IssuedApiKey>('POST', `${base}/api-keys/${keyId}/rotate`, { graceSeconds: 86400 }))),
    });
  const revoke = (keyId: string, prefix: string) =>
    modals.openConfirmModal({
      title: 'Revoke API key',
      children: <Text size="sm">The key {prefix}… stops working on every Gateway at once. This cannot be undone.</Text>,
      labels: { confirm: 'Revoke', cancel: 'Cancel' },
      confirmProps: { color: 'red' },
      onConfirm: () => void run(() => api('DELETE', `${base}/api-keys/${keyId}`)),
    });
  return (
    <Table.Tr>
      <Table.Td>
        {credential.username}
        {error && (
          <Text c="red" size="sm" role="alert">
            {error}
          </Text>
        )}
      </Table.Td>
      <Table.Td>
        <Switch
          aria-label={`${credential.username} enabled`}
          checked={credential.enabled}
          disabled={!can('credential:write')}
          onChange={(e) => void run(() => api('PATCH', base, { enabled: e.currentTarget.checked }))}
        />
      </Table.Td>
      <Table.Td>
        <Stack gap={4}>
          {credential.apiKeys.map((k) => (
            <Group key={k.id} gap="xs">
              <Code>{k.prefix}…</Code>
              {k.expiresAt && <Text size="xs">until {new Date(k.expiresAt).toLocaleString()}</Text>}
              {can('credential:rotate') && (
                <Button size="compact-xs" variant="light" onClick={() => rotate(k.id, k.prefix)}>
                  Rotate
                </Button>
              )}
              {can('credential:write') && (
                <Button size="compact-xs" variant="light" color="red" onClick={() => revoke(k.id, k.prefix)}>
                  Revoke
                </Button>
              )}
            </Group>
          ))}
        </Stack>
      </Table.Td>
      <Table.Td>
        <Group gap="xs" wrap="nowrap">
          {can('credential:write') && (
            <>
              <RowAction label={`Rules of ${credential.username}`} onClick={() => setEditing('rules')}>
                Rules
              </RowAction>
              <RowAction label={`Token settings of ${credential.username}`} onClick={() => setEditing('tokens')}>
                Token settings
              </RowAction>
            </>
          )}
          {/* Read-only for a viewer: the settings an OIDC client was registered with. */}
          <RowAction label={`OIDC client ${credential.username}`} onClick={() => setEditing('oidc')}>
            OIDC client
          </RowAction>
        </Group>
        <Modal {...escape} opened={editing !== null} onClose={() => setEditing(null)} title={editing ? `${EDITORS[editing]} of ${credential.username}` : ''} size="xl">
          {editing === 'rules' && <CredentialRulesForm projectId={projectId} credential={credential} onDone={() => setEditing(null)} />}
          {editing === 'tokens' && <TokenSettingsForm projectId={projectId} credential={credential} onDone={() => setEditing(null)} />}
          {editing === 'oidc' && <OidcClientPanel projectId={projectId} credential={credential} />}
        </Modal>
      </Table.Td>
    </Table.Tr>
  );
}
