import { Badge, Button, Modal, PasswordInput, SegmentedControl, Select, Stack, Text } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ApiError, api } from '../api/client';
import { useRequestSchema } from '../api/openapi';
import type { IdentitySource, IdentitySourceTestResult, IdentitySourceType, Project } from '../api/types';
import { withoutNulls } from '../forms/form-schema';
import { SchemaForm } from '../forms/SchemaForm';
import { errorTreeFor } from '../forms/server-errors';
import { EntityListPanel, RowAction } from '../layout/EntityListPanel';
import { usePermissions } from '../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from './actions';
import { SamlMetadataImport } from './identity-sources/SamlMetadataImport';
import { canSync, useSyncNow } from './identity-sources/SourceSync';
import { QueryState } from './QueryState';
import { SharedSecretPicker } from './SharedSecretPicker';

const TYPES: { value: IdentitySourceType; label: string }[] = [
  { value: 'ldap', label: 'LDAP / Active Directory' },
  { value: 'sql', label: 'SQL database' },
  { value: 'rest', label: 'REST endpoint' },
  { value: 'oidc', label: 'External OpenID Provider' },
  { value: 'saml', label: 'SAML 2.0 IdP' },
];
const SECRET_LABELS: Record<IdentitySourceType, string> = {
  ldap: 'Service account password',
  sql: 'Database password',
  rest: 'API key (sent in the secret header)',
  oidc: 'Client secret (leave empty for a public client: PKCE only)',
  saml: 'SP private key (PEM, RSA): signs AuthnRequests and decrypts encrypted Assertions; leave empty for neither',
};
/** Chosen outside the generated form: the type and scope never change, the secret is write-only. */
const HAND_MADE = ['type', 'projectId', 'secret'];
/** An oidc source's project secret is picked by name, not typed as an id. */
const HAND_MADE_CONFIG = ['clientSecretId'];

type JsonSchema = { properties?: Record<string, JsonSchema>; required?: string[]; [key: string]: unknown };
const without = (schema: JsonSchema, fields: string[]): JsonSchema => ({
  ...schema,
  properties: Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([k]) => !fields.includes(k))),
  required: (schema.required ?? []).filter((k) => !fields.includes(k)),
});

/** The Manager's finding on the picked secret (another project's, not a shared-secret, given with a typed one). */
const clientSecretIssue = (issues: readonly { path: string; message: string }[]) =>
  issues
    .filter((i) => i.path === 'config.clientSecretId')
    .map((i) => i.message)
    .join(' ') || undefined;

/** The config as written: the picked project secret's id, or none (a typed secret or a public client). */
function withClientSecretId(config: unknown, clientSecretId: string): Record<string, unknown> {
  const { clientSecretId: _, ...rest } = (config ?? {}) as Record<string, unknown>;
  return clientSecretId === '' ? rest : { ...rest, clientSecretId };
}

/**
 * Directories the Gateways check end users' passwords against (basic-auth, the password grant):
 * LDAP / Active Directory, an SQL database or a REST endpoint; and external OpenID Providers end users
 * sign in with on the login page ("Sign in with <name>"); for every project (System) or one. The
 * secret is write-only: the console sends it and is only ever told that it is set.
 */
export function IdentitySourcesScreen() {
  const sources = useQuery({ queryKey: ['identity-sources'], queryFn: () => api<IdentitySource[]>('GET', '/identity-sources') });
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => api<Project[]>('GET', '/projects') });
  const { can } = usePermissions();
  const [editing, setEditing] = useState<IdentitySource | 'new' | null>(null);
  // A sync may disable end users and sign operators out: their lists are read again after any action here.
  const action = useAction([['identity-sources'], ['end-users'], ['users'], ['role-bindings']]);
  const sync = useSyncNow(action);
  const projectName = (id: string | null) => (id ? (projects.data?.find((p) => p.id === id)?.name ?? id) : 'System');
  const remove = (source: IdentitySource) =>
    confirmDestructive(
      'Delete identity source',
      `The Gateways stop asking ${source.name}; its users can no longer log in through it. The Manager refuses while a proxy still names it.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/identity-sources/${source.id}`), `Identity source ${source.name} deleted`),
    );
  return (
    <EntityListPanel
      title="Identity sources"
      level={2}
      label="Identity sources"
      rows={sources.data}
      rowKey={(s) => s.id}
      loading={sources.isLoading}
      loadError={sources.error}
      actionError={action.error}
      empty="No identity sources yet. Connect an LDAP directory or an SQL users table, then name it in a proxy's basic-auth policy so its users can log in with the passwords they already have; or add an external OpenID Provider and list it in an OIDC client's token settings."
      create={can('identity-source:write') ? { label: 'New identity source', onClick: () => setEditing('new') } : undefined}
      columns={[
        {
          header: 'Name',
          cell: (s) => (
            <>
              {s.name}
              {s.description && (
                <Text size="xs" c="dimmed">
                  {s.description}
                </Text>
              )}
            </>
          ),
        },
        { header: 'Type', cell: (s) => TYPES.find((t) => t.value === s.type)?.label ?? s.type },
        { header: 'Scope', cell: (s) => projectName(s.projectId) },
        {
          header: 'State',
          cell: (s) => (
            <Badge variant="outline" color={s.enabled ? 'teal.9' : 'gray.7'}>
              {s.enabled ? 'enabled' : 'disabled'}
            </Badge>
          ),
        },
        { header: 'Secret', cell: (s) => (s.hasSecret ? 'set' : 'none') },
      ]}
      actions={(s) => (
        <SourceActions source={s} onEdit={() => setEditing(s)} onDelete={() => remove(s)} onSync={canSync(s) ? () => sync.start(s) : undefined} syncing={sync.running === s.id} />
      )}
    >
      {sync.report}
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === 'new' ? 'New identity source' : `Identity source ${editing?.name ?? ''}`} size="xl">
        {editing !== null && editing !== 'new' && editing.type === 'saml' && <SamlMetadataImport source={editing} onImported={() => setEditing(null)} />}
        {editing !== null && <SourceForm source={editing === 'new' ? null : editing} projects={projects.data ?? []} onDone={() => setEditing(null)} />}
      </Modal>
    </EntityListPanel>
  );
}

/** The Manager asks the source about a random user (it must answer, and refuse): ok, or the reason code and the failing step. */
async function testConnection(source: IdentitySource): Promise<void> {
  try {
    const r = await api<IdentitySourceTestResult>('POST', `/identity-sources/${source.id}/test`, {});
    notifications.show(
      r.ok
        ? { message: `${source.name}: connection ok (${r.durationMs} ms)`, color: 'green' }
        : { title: `${source.name}: connection failed (${r.code ?? r.outcome})`, message: r.detail ?? r.outcome, color: 'red', autoClose: false },
    );
  } catch (err) {
    notifications.show({ title: `${source.name}: connection not tested`, message: err instanceof Error ? err.message : String(err), color: 'red', autoClose: false });
  }
}

/**
 * Test, sync now (a source with sync settings only), edit and delete, where the operator may write
 * identity sources at the source's scope (what the Manager asks of each).
 */
function SourceActions({ source, onEdit, onDelete, onSync, syncing }: { source: IdentitySource; onEdit: () => void; onDelete: () => void; onSync?: () => void; syncing: boolean }) {
  const { can } = usePermissions(source.projectId ? { projectId: source.projectId } : {});
  if (!can('identity-source:write')) return null;
  return (
    <>
      <RowAction label={`Test connection of identity source ${source.name}`} onClick={() => void testConnection(source)}>
        Test connection
      </RowAction>
      {onSync && (
        <RowAction label={`Sync now: identity source ${source.name}`} onClick={onSync} loading={syncing}>
          Sync now
        </RowAction>
      )}
      <RowAction label={`Edit identity source ${source.name}`} onClick={onEdit}>
        Edit
      </RowAction>
      <RowAction label={`Delete identity source ${source.name}`} onClick={onDelete} destructive>
        Delete
      </RowAction>
    </>
  );
}

function SourceForm({ source, projects, onDone }: { source: IdentitySource | null; projects: Project[]; onDone: () => void }) {
  const narrow = useMediaQuery('(max-width: 36em)');
  const [type, setType] = useState<IdentitySourceType>(source?.type ?? 'ldap');
  const [projectId, setProjectId] = useState<string | null>(source?.projectId ?? null);
  const [secret, setSecret] = useState('');
  const [clientSecretId, setClientSecretId] = useState(source?.type === 'oidc' && typeof source.config.clientSecretId === 'string' ? source.config.clientSecretId : '');
  const [values, setValues] = useState<Partial<Record<IdentitySourceType, Record<string, unknown>>>>(() =>
    source
      ? {
          [source.type]: withoutNulls({
            name: source.name,
            description: source.description,
            config: source.config,
            roleMappings: source.roleMappings,
            timeoutMs: source.timeoutMs,
            cacheTtlSeconds: source.cacheTtlSeconds,
            enabled: source.enabled,
            sync: source.sync,
            operatorLogin: source.operatorLogin,
          }) as Record<string, unknown>,
        }
      : {},
  );
  const { schema: body, error } = useRequestSchema('POST', '/api/v1/identity-sources');
  const action = useAction([['identity-sources']]);
  const issues = action.error instanceof ApiError ? action.error.errors : [];
  const branch = ((body?.oneOf ?? []) as { properties?: Record<string, { const?: string }> }[]).find((b) => b.properties?.type?.const === type);
  const stripped = branch && without(branch as JsonSchema, HAND_MADE);
  const config = stripped?.properties?.config;
  const schema = stripped && (type === 'oidc' && config ? { ...stripped, properties: { ...stripped.properties, config: without(config, HAND_MADE_CONFIG) } } : stripped);
  const value = values[type] ?? {};
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    // A picked project secret replaces a sealed one (the Manager takes one or the other); a typed one with a pick is refused on the field.
    const dropSealed = type === 'oidc' && clientSecretId !== '' && !secret && source?.hasSecret === true;
    const written = {
      ...value,
      ...(type === 'oidc' ? { config: withClientSecretId(value.config, clientSecretId) } : {}),
      ...(secret ? { secret } : dropSealed ? { secret: null } : {}),
    };
    const done = source
      ? await action.run(() => api('PATCH', `/identity-sources/${source.id}`, written), `Identity source ${typeof value.name === 'string' ? value.name : source.name} saved`)
      : await action.run(() => api('POST', '/identity-sources', { ...written, type, projectId }), `Identity source ${typeof value.name === 'string' ? value.name : ''} created`);
    if (done) onDone();
  };
  if (!schema) return <QueryState error={error} loading={!error} />;
  return (
    <form onSubmit={(e) => void submit(e)} noValidate autoComplete="off">
      <Stack>
        <ErrorAlert error={action.error} />
        {!source && (
          <>
            <Stack gap={4}>
              <Text size="sm" fw={500} id="source-type-label">
                Type
              </Text>
              {/* Five types side by side are wider than a phone: stacked there, each label whole. */}
              <SegmentedControl
                aria-labelledby="source-type-label"
                data={TYPES}
                value={type}
                onChange={(t) => setType(t as IdentitySourceType)}
                orientation={narrow ? 'vertical' : 'horizontal'}
                fullWidth={narrow}
              />
            </Stack>
            <Select
              label="Scope"
              description="System: every project's proxies may use it; a project: only that project's"
              allowDeselect={false}
              data={[{ value: '', label: 'System' }, ...projects.map((p) => ({ value: p.id, label: `Project ${p.name}` }))]}
              value={projectId ?? ''}
              onChange={(id) => setProjectId(id || null)}
            />
          </>
        )}
        <PasswordInput
          label={SECRET_LABELS[type]}
          description={source?.hasSecret ? 'Set; type a new one to replace it. It is sealed and never shown again.' : 'Sealed at rest and never shown again.'}
          value={secret}
          onChange={(e) => setSecret(e.currentTarget.value)}
          autoComplete="new-password"
        />
        {type === 'oidc' && (
          <SharedSecretPicker
            label="Client secret from a project secret"
            projectId={projectId}
            systemPlaceholder="Project identity sources only"
            value={clientSecretId}
            error={clientSecretIssue(issues)}
            onChange={setClientSecretId}
            description="Instead of typing it above: a shared secret of the source's project, rotated in one place"
          />
        )}
        <SchemaForm idPrefix={`source-${type}`} schema={schema} value={value} onChange={(v) => setValues({ ...values, [type]: v })} serverErrors={errorTreeFor(issues, '')} />
        <Button type="submit">{source ? 'Save identity source' : 'Create identity source'}</Button>
      </Stack>
    </form>
  );
}
