import { Modal, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { api } from '../../api/client';
import type { IdentitySource, IdentitySourceSyncReport } from '../../api/types';
import { confirmDestructive, type useAction } from '../actions';

/**
 * Whether "sync now" can run on a source: the Manager runs it only for a source with sync settings
 * (else 409 sync_not_configured), and takes those only on a source it can ask whether a user
 * still exists (a search-bind LDAP source, an SQL source with a lookup query; 422 on any other).
 */
export const canSync = (source: IdentitySource): boolean => source.sync !== null;

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** What a run did, in words: how many were asked about, and who was disabled or signed out by name. */
export function SyncReport({ report }: { report: IdentitySourceSyncReport }) {
  const { endUsers, operators } = report.disabled;
  return (
    <Stack gap="xs">
      <Text size="sm">
        Checked {plural(report.checked.endUsers, 'end user')} and {plural(report.checked.operators, 'operator')} in {report.durationMs} ms.
      </Text>
      {endUsers.length + operators.length === 0 ? (
        <Text size="sm">Everyone is still in the directory: nobody was disabled.</Text>
      ) : (
        <>
          {endUsers.length > 0 && (
            <Text size="sm">
              Disabled {plural(endUsers.length, 'end user')} gone from the directory: {endUsers.map((u) => u.username).join(', ')}
            </Text>
          )}
          {operators.length > 0 && (
            <Text size="sm">
              Signed out {plural(operators.length, 'operator')} gone from the directory (their directory groups' role bindings dropped):{' '}
              {operators.map((u) => u.username).join(', ')}
            </Text>
          )}
          <Text size="xs" c="dimmed">
            Nobody is re-enabled by a sync: enable a user who comes back yourself.
          </Text>
        </>
      )}
    </Stack>
  );
}

/**
 * "Sync now" on a source: asked first (it disables users), then run by the Manager; its report
 * opens in a dialog, a refusal (too many gone, the directory down, a run already going) lands
 * in the list's `action`, shown there with the problem's detail like its other actions' refusals.
 * That action should read end users, operators and bindings again: some may be disabled or signed out.
 */
export function useSyncNow(action: ReturnType<typeof useAction>) {
  const [running, setRunning] = useState<string | null>(null);
  const [done, setDone] = useState<{ source: IdentitySource; report: IdentitySourceSyncReport } | null>(null);
  const run = async (source: IdentitySource) => {
    setRunning(source.id);
    let report: IdentitySourceSyncReport | undefined;
    await action.run(async () => {
      report = await api<IdentitySourceSyncReport>('POST', `/identity-sources/${source.id}/sync`);
    });
    setRunning(null);
    if (report) setDone({ source, report });
  };
  const start = (source: IdentitySource) =>
    confirmDestructive(
      `Sync identity source ${source.name}`,
      `The Manager asks ${source.name} about every end user and operator it provisioned now. Those it no longer knows are disabled (operators signed out, their directory groups' role bindings dropped); nobody is re-enabled. If more than ${source.sync?.maxDisabledPerRun ?? 100} are gone, nobody is disabled.`,
      'Sync now',
      () => void run(source),
    );
  const report = (
    <Modal opened={done !== null} onClose={() => setDone(null)} title={`Sync of ${done?.source.name ?? ''}`}>
      {done && <SyncReport report={done.report} />}
    </Modal>
  );
  return { start, running, report };
}
