import { Select } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import type { ProjectSecret } from '../api/types';
import { reachableClear } from '../layout/reachable-clear';

/**
 * Picks one of a project's shared secrets by name (a key manager or an identity source stores its
 * id). A System one serves every project, so it may not use one: the picker says so
 * (`systemPlaceholder`) instead of listing.
 */
export function SharedSecretPicker({
  label,
  projectId,
  value,
  error,
  description,
  systemPlaceholder,
  onChange,
}: {
  label: string;
  projectId: string | null;
  value: string;
  error?: string;
  description: string;
  systemPlaceholder: string;
  onChange: (id: string) => void;
}) {
  const secrets = useQuery({
    queryKey: ['projects', projectId, 'secrets'],
    queryFn: () => api<ProjectSecret[]>('GET', `/projects/${projectId}/secrets`),
    enabled: projectId !== null,
  });
  const shared = (secrets.data ?? []).filter((s) => s.kind === 'shared-secret').map((s) => ({ value: s.id, label: s.name }));
  // A stored reference the caller may not list (team-scoped secret) still shows, by id.
  if (value !== '' && !shared.some((s) => s.value === value)) shared.push({ value, label: value });
  return (
    <Select
      label={label}
      clearable
      // Clearing is how a source goes back to a typed secret or none.
      clearButtonProps={reachableClear(label)}
      placeholder={projectId === null ? systemPlaceholder : 'None'}
      disabled={projectId === null}
      data={shared}
      value={value === '' ? null : value}
      error={error ?? (secrets.error ? 'The project secrets cannot be listed' : undefined)}
      description={description}
      onChange={(v) => onChange(v ?? '')}
    />
  );
}
