import { Button, Code, Modal, NumberInput, Select, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { ProjectSecret, ProjectSecretKind } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from './actions';
import { EntityListPanel, RowAction } from '../layout/EntityListPanel';

const KINDS: { value: ProjectSecretKind; label: string }[] = [
  { value: 'private-key', label: 'Private key' },
  { value: 'public-key', label: 'Public key' },
  { value: 'certificate', label: 'Certificate' },
  { value: 'trust-store', label: 'Trust store' },
  { value: 'shared-secret', label: 'Shared secret' },
];

/**
 * Keys, certificates and shared secrets the project's policies refer to. Values are write-only:
 * the console sends them and never shows them again (the API returns public parts only).
 */
export function SecretsPanel({ projectId }: { projectId: string }) {
  const secrets = useQuery({ queryKey: ['secrets', projectId], queryFn: () => api<ProjectSecret[]>('GET', `/projects/${projectId}/secrets`) });
  const { can } = usePermissions({ projectId });
  const writable = can('secret:write');
  const [editing, setEditing] = useState<ProjectSecret | 'new' | null>(null);
  const action = useAction([['secrets', projectId]]);
  const remove = (secret: ProjectSecret) =>
    confirmDestructive(
      'Delete secret',
      `${secret.name} and all its versions are deleted. The Manager refuses while a proxy policy refers to it.`,
      'Delete',
      () => void action.run(() => api('DELETE', `/projects/${projectId}/secrets/${secret.id}`), `Secret ${secret.name} deleted`),
    );
  const current = (s: ProjectSecret) => s.versions.find((v) => v.version === s.currentVersion);
  return (
    <EntityListPanel
      title="Secrets"
      label="Secrets"
      rows={secrets.data}
      rowKey={(s) => s.id}
      loading={secrets.isLoading}
      loadError={secrets.error}
      actionError={action.error}
      empty="No secrets yet. Store a key, a certificate or a shared secret here and JOSE policies refer to it by name; its value is never shown again."
      create={writable ? { label: 'New secret', onClick: () => setEditing('new') } : undefined}
      columns={[
        { header: 'Name', cell: (s) => s.name },
        { header: 'Kind', cell: (s) => KINDS.find((k) => k.value === s.kind)?.label ?? s.kind },
        {
          header: 'Current version',
          cell: (s) => (
            <>
              {s.currentVersion}
              {s.versions.some((v) => v.retiresAt !== null) && <Text size="xs">older versions still usable until they retire</Text>}
            </>
          ),
        },
        { header: 'Key id', cell: (s) => current(s) && <Code>{current(s)!.kid}</Code> },
      ]}
      actions={
        writable
          ? (s) => (
              <>
                <RowAction label={`Rotate secret ${s.name}`} onClick={() => setEditing(s)}>
                  Rotate
                </RowAction>
                <RowAction label={`Delete secret ${s.name}`} onClick={() => remove(s)} destructive>
                  Delete
                </RowAction>
              </>
            )
          : undefined
      }
    >
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === 'new' ? 'New secret' : `Rotate ${editing?.name ?? ''}`} size="lg">
        {editing !== null && <SecretForm projectId={projectId} secret={editing === 'new' ? null : editing} onDone={() => setEditing(null)} />}
      </Modal>
    </EntityListPanel>
  );
}

function SecretForm({ projectId, secret, onDone }: { projectId: string; secret: ProjectSecret | null; onDone: () => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<string | null>('shared-secret');
  const [material, setMaterial] = useState('');
  const [privateKey, setPrivateKey] = useState('');
  const [overlap, setOverlap] = useState<number | string>(86400);
  const action = useAction([['secrets', projectId]]);
  const needsPrivateKey = (secret?.kind ?? kind) === 'certificate';
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = { material, ...(needsPrivateKey && privateKey ? { privateKey } : {}) };
    const done = secret
      ? await action.run(() => api('POST', `/projects/${projectId}/secrets/${secret.id}/versions`, { ...value, overlapSeconds: Number(overlap) }), `Secret ${secret.name} rotated`)
      : await action.run(() => api('POST', `/projects/${projectId}/secrets`, { name, kind, ...value }), `Secret ${name} created`);
    if (done) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)} autoComplete="off">
      <Stack>
        <ErrorAlert error={action.error} />
        {!secret && (
          <>
            <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} description="Lowercase letters, digits and dashes" />
            <Select label="Kind" required allowDeselect={false} data={KINDS} value={kind} onChange={setKind} />
          </>
        )}
        <Textarea
          label="Value"
          required
          autosize
          minRows={3}
          value={material}
          onChange={(e) => setMaterial(e.currentTarget.value)}
          description="PEM, or the shared secret (base64url of at least 16 bytes). Write-only: it is sealed and never shown again."
          spellCheck={false}
        />
        {needsPrivateKey && (
          <Textarea
            label="Private key of the certificate (PEM)"
            autosize
            minRows={3}
            value={privateKey}
            onChange={(e) => setPrivateKey(e.currentTarget.value)}
            spellCheck={false}
          />
        )}
        {secret && (
          <NumberInput
            label="Keep the replaced version usable for (seconds)"
            min={0}
            max={90 * 86400}
            value={overlap}
            onChange={setOverlap}
            description="For verification and decryption while callers switch"
          />
        )}
        <Button type="submit">{secret ? 'Rotate secret' : 'Create secret'}</Button>
      </Stack>
    </form>
  );
}
