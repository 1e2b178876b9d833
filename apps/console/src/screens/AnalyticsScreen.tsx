import '@mantine/charts/styles.css';
import { BarChart } from '@mantine/charts';
import { Badge, Group, Select, SimpleGrid, Stack, Switch, Table, Text, Title } from '@mantine/core';
import { fetchEventSource } from '@microsoft/fetch-event-source';
import { useQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useState } from 'react';
import { api } from '../api/client';
import { currentSession } from '../api/session';
import type { AuthAnalytics, AuthOutcome, AuthRecord, Environment, Project } from '../api/types';
import { QueryState } from './QueryState';
import { AuthRecordFilters, NO_NARROW_FILTERS, narrowQuery, type NarrowFilters } from './analytics/AuthRecordFilters';
import { reachableClear } from '../layout/reachable-clear';

/** The window asked for and the bucket that keeps it under the API's bucket limit. */
const WINDOWS = {
  hour: { label: 'Last hour', ms: 3_600_000, bucket: 'minute' },
  day: { label: 'Last 24 hours', ms: 86_400_000, bucket: 'hour' },
  week: { label: 'Last 7 days', ms: 7 * 86_400_000, bucket: 'hour' },
  month: { label: 'Last 30 days', ms: 30 * 86_400_000, bucket: 'day' },
} as const;
type WindowName = keyof typeof WINDOWS;
const OUTCOMES: { name: AuthOutcome; color: string }[] = [
  { name: 'success', color: 'teal.7' },
  { name: 'denied', color: 'red.7' },
  { name: 'throttled', color: 'yellow.7' },
  { name: 'blocked', color: 'grape.7' },
];

/** A badge's text needs more contrast than a bar: the darkest shade of the outcome's color. */
const badgeColor = (outcome: string) => OUTCOMES.find((o) => o.name === outcome)?.color.replace('.7', '.9');

/**
 * Who authenticated at the Gateways and who was refused: counts over time by outcome, the top
 * reasons, proxies, failing credentials and addresses, and a live tail of the decisions as they
 * happen. Filters are the API's (proxy and credential picked by name); the reader sees only the projects it may read analytics of.
 */
export function AnalyticsScreen() {
  const [window, setWindow] = useState<WindowName>('day');
  const [projectId, setProjectId] = useState<string | null>(null);
  const [environment, setEnvironment] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => api<Project[]>('GET', '/projects') });
  const environments = useQuery({ queryKey: ['environments'], queryFn: () => api<Environment[]>('GET', '/environments') });
  const [narrow, setNarrow] = useState<NarrowFilters>(NO_NARROW_FILTERS);
  const onNarrow = useCallback((next: NarrowFilters) => setNarrow(next), []);
  const broad = new URLSearchParams({ ...(projectId && { projectId }), ...(environment && { environment }), ...(outcome && { outcome }) });
  const filters = new URLSearchParams({ ...Object.fromEntries(broad), ...narrowQuery(narrow) });
  const analytics = useQuery({ queryKey: ['analytics', window, filters.toString()], queryFn: () => analyticsIn(window, filters), refetchInterval: 30_000 });
  // The proxies and credentials to pick from: those seen in the window under the broader filters alone.
  const choices = useQuery({ queryKey: ['analytics', window, broad.toString(), 'choices'], queryFn: () => analyticsIn(window, broad, 100), refetchInterval: 30_000 });
  const data = analytics.data;
  return (
    <Stack>
      <Title order={2}>Analytics</Title>
      <Group align="end">
        <Select
          label="Window"
          allowDeselect={false}
          data={Object.entries(WINDOWS).map(([value, w]) => ({ value, label: w.label }))}
          value={window}
          onChange={(w) => setWindow((w ?? 'day') as WindowName)}
        />
        <Select
          label="Project"
          placeholder="Every project"
          clearable
          clearButtonProps={reachableClear('the project filter')}
          data={(projects.data ?? []).map((p) => ({ value: p.id, label: p.name }))}
          value={projectId}
          onChange={setProjectId}
        />
        <Select
          label="Environment"
          placeholder="Every environment"
          clearable
          clearButtonProps={reachableClear('the environment filter')}
          data={(environments.data ?? []).map((e) => e.name)}
          value={environment}
          onChange={setEnvironment}
        />
        <Select
          label="Outcome"
          placeholder="Every outcome"
          clearable
          clearButtonProps={reachableClear('the outcome filter')}
          data={OUTCOMES.map((o) => o.name)}
          value={outcome}
          onChange={setOutcome}
        />
        <Switch label="Live tail" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} />
      </Group>
      <AuthRecordFilters choices={choices.data} value={narrow} onChange={onNarrow} />
      {live && <LiveTail filters={filters.toString()} />}
      <QueryState error={analytics.error} loading={analytics.isLoading} />
      {data && data.total === 0 && <Text c="dimmed">No authentications in this window. Calls to your proxies show here within seconds; widen the window or clear a filter.</Text>}
      {data && data.total > 0 && (
        <>
          <Group gap="xs" aria-label="Totals">
            <Text fw={500}>
              {data.total} authentication{data.total === 1 ? '' : 's'}
            </Text>
            {data.byOutcome.map((o) => (
              <Badge key={o.outcome} variant="outline" color={badgeColor(o.outcome)}>
                {o.outcome}: {o.count}
              </Badge>
            ))}
          </Group>
          <figure style={{ margin: 0 }} aria-label={`Authentications per ${data.bucket} by outcome`}>
            <BarChart
              h={260}
              data={data.series.map((s) => ({ ...s, start: new Date(s.start).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }) }))}
              dataKey="start"
              type="stacked"
              series={OUTCOMES}
              withLegend
            />
          </figure>
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <CountTable title="Refusal reasons" rows={data.byReason.filter((r) => r.reason !== null).map((r) => [r.reason ?? '', r.count])} />
            <CountTable title="Proxies" rows={data.byProxy.map((p) => [p.proxyName ?? 'token endpoints', p.count])} />
            <CountTable title="Top failing credentials" rows={data.topFailingCredentials.map((c) => [c.username ?? '(none presented)', c.count])} />
            <CountTable title="Top failing addresses" rows={data.topFailingAddresses.map((a) => [a.clientIp, a.count])} />
          </SimpleGrid>
        </>
      )}
    </Stack>
  );
}

/** GET /analytics/auth over the window ending now, in the window's bucket; `top` entries per ranking (the API's default 10 unless given). */
function analyticsIn(window: WindowName, filters: URLSearchParams, top?: number): Promise<AuthAnalytics> {
  const to = new Date();
  const query = new URLSearchParams(filters);
  query.set('from', new Date(to.getTime() - WINDOWS[window].ms).toISOString());
  query.set('to', to.toISOString());
  query.set('bucket', WINDOWS[window].bucket);
  if (top) query.set('top', String(top));
  return api<AuthAnalytics>('GET', `/analytics/auth?${query.toString()}`);
}

function CountTable({ title, rows }: { title: string; rows: [string, number][] }) {
  return (
    <Stack gap="xs">
      <Title order={3} size="h5">
        {title}
      </Title>
      {rows.length === 0 ? (
        <Text c="dimmed" size="sm">
          None
        </Text>
      ) : (
        <Table aria-label={title}>
          <Table.Tbody>
            {rows.map(([name, count]) => (
              <Table.Tr key={name}>
                <Table.Td>{name}</Table.Td>
                <Table.Td ta="right">{count}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

/** The decisions as the Gateways make them (GET /analytics/auth/stream with fetch: EventSource cannot send the session), newest first. */
function LiveTail({ filters }: { filters: string }) {
  const [records, setRecords] = useState<AuthRecord[]>([]);
  useEffect(() => {
    setRecords([]);
    const controller = new AbortController();
    void fetchEventSource(`/api/v1/analytics/auth/stream${filters ? `?${filters}` : ''}`, {
      headers: { authorization: `Bearer ${currentSession()?.token ?? ''}`, 'x-idm-client': 'console' },
      signal: controller.signal,
      openWhenHidden: true,
      onmessage: (message) => {
        if (!message.data) return;
        setRecords((previous) => [JSON.parse(message.data) as AuthRecord, ...previous].slice(0, 200));
      },
    });
    return () => controller.abort();
  }, [filters]);
  return (
    <Stack gap="xs" aria-live="polite">
      <Title order={3}>Live</Title>
      {records.length === 0 && <Text c="dimmed">Waiting for authentications…</Text>}
      {records.length > 0 && (
        <Table.ScrollContainer minWidth={720} type="native">
          <Table striped aria-label="Live authentications">
            <Table.Thead>
              <Table.Tr>
                {['Time', 'Outcome', 'Proxy', 'Who', 'Reason', 'Address'].map((h) => (
                  <Table.Th key={h}>{h}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {records.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td>{new Date(r.time).toLocaleTimeString()}</Table.Td>
                  <Table.Td>
                    <Badge variant="outline" color={badgeColor(r.outcome)}>
                      {r.outcome}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{r.proxyName ?? r.policy ?? '—'}</Table.Td>
                  <Table.Td>{r.username ?? r.keyPrefix ?? '—'}</Table.Td>
                  <Table.Td>{r.reason ?? '—'}</Table.Td>
                  <Table.Td>
                    {r.clientIp}
                    {r.country ? ` (${r.country})` : ''}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
