import { Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { api } from '../../api/client';
import { SettingsTable } from '../../layout/SettingsTable';
import { usePermissions } from '../../permissions/permissions';
import { QueryState } from '../QueryState';
import { SchemaFormBody } from '../credentials/SchemaFormBody';

interface Props {
  projectId: string;
  /** The settings resource under the project (`end-user-registration`): GET reads it, PUT replaces it. */
  resource: string;
  title: string;
  intro: ReactNode;
  submitLabel: string;
  saved: string;
}

/**
 * A project's settings resource as a section of a screen: for an operator with project:write, a
 * form generated from the PUT's body schema in the Manager's OpenAPI document (a field the API
 * grows appears with no console change, the Manager's findings land on their field); for one
 * who may only read, every setting in a table.
 */
export function ProjectSettingsSection({ projectId, resource, title, intro, submitLabel, saved }: Props) {
  const path = `/projects/${projectId}/${resource}`;
  const queryKey = [resource, projectId];
  const current = useQuery({ queryKey, queryFn: () => api<Record<string, unknown>>('GET', path) });
  const { can } = usePermissions({ projectId });
  const headingId = `${resource}-heading`;
  return (
    <Stack component="section" aria-labelledby={headingId}>
      <Title order={3} id={headingId}>
        {title}
      </Title>
      <Text size="sm" c="dimmed">
        {intro}
      </Text>
      {current.isLoading || current.error ? (
        <QueryState error={current.error} loading={current.isLoading} />
      ) : can('project:write') ? (
        <SchemaFormBody
          // A fresh form when the stored settings change (saved here or elsewhere).
          key={JSON.stringify(current.data)}
          contract={{ method: 'PUT', path: `/api/v1/projects/{projectId}/${resource}` }}
          bodyPath=""
          initial={current.data ?? {}}
          idPrefix={resource}
          save={(value) => api('PUT', path, value)}
          saved={saved}
          submitLabel={submitLabel}
          invalidate={[queryKey]}
          onDone={() => undefined}
        />
      ) : (
        <Stack gap="xs">
          <Text size="sm">You may look at these settings but not change them.</Text>
          <SettingsTable label={title} settings={current.data ?? null} />
        </Stack>
      )}
    </Stack>
  );
}
