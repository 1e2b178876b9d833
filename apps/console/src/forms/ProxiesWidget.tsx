import { MultiSelect } from '@mantine/core';
import type { WidgetProps } from '@rjsf/utils';
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router-dom';
import { api } from '../api/client';
import type { ApiProxy } from '../api/types';

/**
 * A list of proxy ids (a credential ACL's allowed or denied proxies) picked by name among the
 * project's proxies. An id that names no proxy any more (deleted) stays listed by id, so saving
 * does not silently drop it. Nothing chosen is sent as nothing: the API's default (`noneMeans`).
 */
export function ProxiesWidget({ id, value, onChange, disabled, readonly, label, rawErrors, schema, options }: WidgetProps) {
  const { projectId = '' } = useParams();
  const proxies = useQuery({ queryKey: ['proxies', projectId], queryFn: () => api<ApiProxy[]>('GET', `/projects/${projectId}/proxies`), enabled: projectId !== '' });
  const selected = Array.isArray(value) ? (value as string[]) : [];
  const known = proxies.data ?? [];
  const data = [
    ...known.map((p) => ({ value: p.id, label: `${p.name} (${p.basePath})` })),
    ...selected.filter((s) => !known.some((p) => p.id === s)).map((s) => ({ value: s, label: `${s} (deleted)` })),
  ];
  const noneMeans = typeof options.noneMeans === 'string' ? options.noneMeans : undefined;
  return (
    <MultiSelect
      id={id}
      label={label}
      description={[schema.description, noneMeans && `None chosen: ${noneMeans}.`].filter(Boolean).join(' ')}
      placeholder={selected.length === 0 ? 'Choose proxies by name' : undefined}
      data={data}
      value={selected}
      disabled={disabled || readonly}
      error={rawErrors?.join(', ')}
      searchable
      nothingFoundMessage="No proxy of this project has that name"
      onChange={(ids) => onChange(ids.length > 0 ? ids : undefined)}
    />
  );
}
