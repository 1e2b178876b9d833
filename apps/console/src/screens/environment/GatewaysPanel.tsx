import { Badge, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useRef } from 'react';
import { api } from '../../api/client';
import type { EnvironmentGateways } from '../../api/types';
import { EntityListPanel } from '../../layout/EntityListPanel';
import { ageOf, fleetSummary, nextSighting, withCatchingUp, type FleetGateway, type FleetSync, type RevisionSighting } from './gateway-fleet';

/** The Gateways report every few seconds; the console asks about as often, so a stopped one goes within a report's lifetime. */
const REFRESH_MS = 3_000;

/**
 * The environment's Gateways, polled; `fleet` has a Gateway whose last report may predate the
 * latest published change as catching up rather than behind (it applies the change within a beat).
 */
export function useEnvironmentGateways(environmentId: string) {
  const query = useQuery({
    queryKey: ['gateways', environmentId],
    queryFn: () => api<EnvironmentGateways>('GET', `/environments/${environmentId}/gateways`),
    refetchInterval: REFRESH_MS,
  });
  const sighting = useRef<RevisionSighting | undefined>(undefined);
  const fleet = useMemo(() => {
    if (!query.data) return undefined;
    sighting.current = nextSighting(sighting.current, query.data);
    return withCatchingUp(query.data.gateways, sighting.current);
  }, [query.data]);
  return { ...query, fleet };
}

/** An environment's Gateways, live: each one's revision against the published one, ready, last seen. */
export function GatewaysPanel({ environmentId, environmentName }: { environmentId: string; environmentName: string }) {
  const gateways = useEnvironmentGateways(environmentId);
  const published = gateways.data?.publishedRevision;
  // A failed poll: its problem instead of the last answer, which may no longer be true.
  const fleet = gateways.error ? undefined : gateways.fleet;
  return (
    <EntityListPanel
      title="Gateways"
      label={`Gateways of ${environmentName}`}
      rows={fleet}
      rowKey={(g) => g.id}
      loading={gateways.isLoading}
      loadError={gateways.error}
      toolbar={
        fleet && (
          <>
            <Text c="dimmed" size="sm">
              {published === null ? 'Nothing published yet.' : `Published revision ${published}.`} {fleetSummary(fleet)}
            </Text>
            <Text c="dimmed" size="sm">
              {HELP}
            </Text>
          </>
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

/** What the Sync column means, in one breath (the heartbeat is a few seconds; see GATEWAY_HEARTBEAT_INTERVAL_MS). */
const HELP =
  'Each Gateway reports every few seconds: "catching up" is one whose last report came before the latest change (it applies it within a beat); "behind" is one that reported again and still serves an older revision.';

const SYNC_LABELS: Record<Exclude<FleetSync, 'behind'>, string> = {
  in_sync: 'in sync',
  catching_up: 'catching up',
  loading: 'loading',
  other_epoch: 'older publication',
  unknown: 'nothing published',
};

/** Dark shades: the badge text keeps its contrast (axe) in light mode. */
export function SyncBadge({ gateway }: { gateway: FleetGateway }) {
  const label = gateway.sync === 'behind' ? `${gateway.behind ?? '?'} behind` : SYNC_LABELS[gateway.sync];
  return (
    <Badge variant="outline" tt="none" color={gateway.sync === 'in_sync' ? 'teal.9' : gateway.sync === 'behind' ? 'red.9' : 'gray.7'}>
      {label}
    </Badge>
  );
}
