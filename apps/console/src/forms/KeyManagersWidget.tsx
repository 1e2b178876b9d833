import { MultiSelect } from '@mantine/core';
import type { WidgetProps } from '@rjsf/utils';
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router-dom';
import { api } from '../api/client';
import type { KeyManager } from '../api/types';

/**
 * A policy's `keyManagers` (ids in the config) picked by name: the System key managers and the
 * proxy's project's own. An id that names no key manager any more (deleted) stays listed by id,
 * so saving does not silently drop it.
 *
 * With `valueBy: 'name'` (a client's JWT bearer grant, `jwtBearer.keyManagers`, which names its
 * trusted issuers): the values are names, and only key managers that can verify an assertion are
 * offered (external ones taking JWTs, not our own token service or an opaque-only one).
 */
export function KeyManagersWidget({ id, value, onChange, disabled, readonly, label, rawErrors, schema, options }: WidgetProps) {
  const { projectId } = useParams();
  const keyManagers = useQuery({ queryKey: ['key-managers'], queryFn: () => api<KeyManager[]>('GET', '/key-managers') });
  const byName = options.valueBy === 'name';
  const key = (km: KeyManager) => (byName ? km.name : km.id);
  const selected = Array.isArray(value) ? (value as string[]) : [];
  const usable = (keyManagers.data ?? []).filter(
    (km) => (km.projectId === null || km.projectId === projectId) && (!byName || (km.type === 'external' && km.tokenTypes !== 'opaque')),
  );
  const data = [
    ...usable.map((km) => ({ value: key(km), label: `${km.name}${km.projectId === null ? ' (System)' : ''}${km.enabled ? '' : ' (disabled)'}` })),
    ...selected.filter((s) => !usable.some((km) => key(km) === s)).map((s) => ({ value: s, label: s })),
  ];
  return (
    <MultiSelect
      id={id}
      label={label}
      description={schema.description}
      data={data}
      value={selected}
      disabled={disabled || readonly}
      error={rawErrors?.join(', ')}
      searchable
      nothingFoundMessage="No key manager for this project"
      onChange={(ids) => onChange(ids)}
    />
  );
}
