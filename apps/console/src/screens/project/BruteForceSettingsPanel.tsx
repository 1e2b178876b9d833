import { Button, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api/client';
import { SettingsTable } from '../../layout/SettingsTable';
import { usePermissions } from '../../permissions/permissions';
import { QueryState } from '../QueryState';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { SchemaFormBody } from '../credentials/SchemaFormBody';

const SETTINGS = '/api/v1/projects/{projectId}/brute-force-settings';
type Settings = Record<string, number>;

/**
 * How the Gateways' brute-force detectors count failed authentications against the project's
 * credentials: overrides of the environment's detectors, a field left empty keeps the
 * environment's value. The form comes from the Manager's contract, its findings land on the fields.
 */
export function BruteForceSettingsPanel({ projectId }: { projectId: string }) {
  const path = `/projects/${projectId}/brute-force-settings`;
  const current = useQuery({ queryKey: ['brute-force-settings', projectId], queryFn: () => api<Settings | null>('GET', path) });
  const { can } = usePermissions({ projectId });
  const reset = useAction([['brute-force-settings', projectId]]);
  if (current.isLoading || current.error) return <QueryState error={current.error} loading={current.isLoading} />;
  const settings = current.data ?? null;
  const resetting = () =>
    confirmDestructive(
      'Reset brute-force settings',
      "The project's own thresholds and lockouts are removed; every Gateway applies the environment's detectors to its credentials again.",
      'Reset',
      () => void reset.run(() => api('DELETE', path), 'Brute-force settings reset to the environment'),
    );
  return (
    <Stack>
      <Title order={3}>Brute-force settings</Title>
      <Text size="sm" c="dimmed">
        {settings
          ? "These override the environment's detectors for failures against this project's credentials; an empty field keeps the environment's value."
          : "This project uses the environment's detectors. Saving values here overrides them for its credentials on every Gateway within a second."}
      </Text>
      <ErrorAlert error={reset.error} />
      {can('project:write') ? (
        <SchemaFormBody
          // A fresh form when the stored settings change (saved elsewhere or reset here).
          key={JSON.stringify(settings)}
          contract={{ method: 'PUT', path: SETTINGS }}
          bodyPath=""
          initial={settings ?? {}}
          idPrefix="brute-force-settings"
          save={(value) => api('PUT', path, value)}
          saved="Brute-force settings saved"
          submitLabel="Save brute-force settings"
          invalidate={[['brute-force-settings', projectId]]}
          onDone={() => undefined}
          extraActions={
            settings && (
              <Button variant="light" color="red" onClick={resetting}>
                Reset to the environment&apos;s detectors
              </Button>
            )
          }
        />
      ) : (
        <ReadOnlySettings settings={settings} />
      )}
    </Stack>
  );
}

function ReadOnlySettings({ settings }: { settings: Settings | null }) {
  return (
    <Stack gap="xs">
      <Text size="sm">You may look at these settings but not change them.</Text>
      <SettingsTable label="Brute-force settings" settings={settings} />
    </Stack>
  );
}
