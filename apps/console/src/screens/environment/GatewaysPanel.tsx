import { Badge, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api/client';
import type { EnvironmentGateways, GatewayStatus } from '../../api/types';
import { EntityListPanel } from '../../layout/EntityListPanel';
import { ageOf, fleetSummary } from './gateway-fleet';

/** The Gateways report every few seconds; the console asks about as often, so a stopped one goes within a report's lifetime. */
const REFRESH_MS = 3_000;

export const useEnvironmentGateways = (environmentId: string) =>
  useQuery({
    queryKey: ['gateways', environmentId],
    queryFn: () => api<EnvironmentGateways>('GET', `/environments/${environmentId}/gateways`),
    refetchInterval: REFRESH_MS,
  });

/** An environment's Gateways, live: each one's revision against the published one, ready, last seen. */
export function GatewaysPanel({ environmentId, environmentName }: { environmentId: string; environmentName: string }) {
  const gateways = useEnvironmentGateways(environmentId);
  const published = gateways.data?.publishedRevision;
  return (
    <EntityListPanel
      title="Gateways"
      label={`Gateways of ${environmentName}`}
      rows={gateways.data?.gateways}
      rowKey={(g) => g.id}
      loading={gateways.isLoading}
      loadError={gateways.error}
      toolbar={
        gateways.data && (
          <Text c="dimmed" size="sm">
            {published === null ? 'Nothing published yet.' : `Published revision ${published}.`} {fleetSummary(gateways.data.gateways)}
          </Text>
        )
      }
      empty={`No Gateway is reporting. Start one with GATEWAY_ENVIRONMENT=${environmentName} on the Manager's Redis: it shows here within seconds, and leaves about 15 s after it stops.`}
      columns={[
        { header: 'Gateway', cell: (g) => g.id },
        { header: 'Version', cell: (g) => g.version },
        { header: 'Revision', cell: (g) => g.revision ?? '—' },
        { header: 'Sync', cell: (g) => <SyncBadge gateway={g} /> },
        { header: 'Ready', cell: (g) => (g.ready ? 'ready' : 'not ready') },
        { header: 'Last change applied', cell: (g) => (g.appliedAt ? new Date(g.appliedAt).toLocaleString() : '—') },
        { header: 'Started', cell: (g) => new Date(g.startedAt).toLocaleString() },
        { header: 'Last seen', cell: (g) => <span title={new Date(g.lastSeen).toLocaleString()}>{ageOf(g.lastSeen)}</span> },
        { header: 'Requests/s', cell: (g) => g.requestsPerSecond },
      ]}
    />
  );
}

const SYNC_LABELS: Record<Exclude<GatewayStatus['sync'], 'behind'>, string> = {
  in_sync: 'in sync',
  loading: 'loading',
  other_epoch: 'older publication',
  unknown: 'nothing published',
};

/** Dark shades: the badge text keeps its contrast (axe) in light mode. */
export function SyncBadge({ gateway }: { gateway: GatewayStatus }) {
  const label = gateway.sync === 'behind' ? `${gateway.behind ?? '?'} behind` : SYNC_LABELS[gateway.sync];
  return (
    <Badge variant="outline" tt="none" color={gateway.sync === 'in_sync' ? 'teal.9' : gateway.sync === 'behind' ? 'red.9' : 'gray.7'}>
      {label}
    </Badge>
  );
}
