import { Badge, Button, Code, Group, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { fetchEventSource } from '@microsoft/fetch-event-source';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api } from '../api/client';
import { currentSession } from '../api/session';
import type { AuditEvent, Page } from '../api/types';
import { QueryState } from './QueryState';

/**
 * The audit trail: search by filters a page at a time, newest first, and a live tail. The tail
 * reads GET /api/v1/audit/stream with fetch (EventSource cannot send the bearer session).
 */
export function AuditScreen() {
  const [action, setAction] = useState('');
  const [entityKind, setEntityKind] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const [live, setLive] = useState(false);
  const [tail, setTail] = useState<AuditEvent[]>([]);
  const cursor = cursors.at(-1);
  const query = new URLSearchParams({ limit: '50', ...(action && { action }), ...(entityKind && { entityKind }), ...(cursor && { cursor }) });
  const page = useQuery({ queryKey: ['audit', query.toString()], queryFn: () => api<Page<AuditEvent>>('GET', `/audit?${query.toString()}`) });

  useEffect(() => {
    if (!live) return;
    const controller = new AbortController();
    void fetchEventSource('/api/v1/audit/stream', {
      headers: { authorization: `Bearer ${currentSession()?.token ?? ''}`, 'x-idm-client': 'console' },
      signal: controller.signal,
      openWhenHidden: true,
      onmessage: (message) => {
        if (!message.data) return;
        setTail((previous) => [JSON.parse(message.data) as AuditEvent, ...previous].slice(0, 200));
      },
    });
    return () => controller.abort();
  }, [live]);

  return (
    <Stack>
      <Title order={2}>Audit</Title>
      <Group align="end">
        <TextInput label="Action" placeholder="e.g. create" value={action} onChange={(e) => setAction(e.currentTarget.value)} />
        <TextInput label="Entity kind" placeholder="e.g. credential" value={entityKind} onChange={(e) => setEntityKind(e.currentTarget.value)} />
        <Switch label="Live tail" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} />
      </Group>
      {live && (
        <Stack gap="xs" aria-live="polite" aria-label="Live audit tail">
          <Title order={3}>Live</Title>
          {tail.length === 0 && <Text c="dimmed">Waiting for changes…</Text>}
          <AuditTable events={tail} label="live" />
        </Stack>
      )}
      <QueryState error={page.error} loading={page.isLoading} />
      {page.data?.items.length === 0 && <Text c="dimmed">No audit entries match.</Text>}
      {!!page.data?.items.length && <AuditTable events={page.data.items} label="history" />}
      <Group>
        {cursors.length > 0 && (
          <Button variant="default" onClick={() => setCursors(cursors.slice(0, -1))}>
            Newer
          </Button>
        )}
        {page.data?.nextCursor && (
          <Button variant="default" onClick={() => setCursors([...cursors, page.data.nextCursor!])}>
            Older
          </Button>
        )}
      </Group>
    </Stack>
  );
}

function AuditTable({ events, label }: { events: AuditEvent[]; label: string }) {
  return (
    <Table.ScrollContainer minWidth={560} type="native">
      <Table striped aria-label={`Audit ${label}`}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>When</Table.Th>
            <Table.Th>Who</Table.Th>
            <Table.Th>What</Table.Th>
            <Table.Th>Changes</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {events.map((e) => (
            <Table.Tr key={`${label}-${e.seq}`}>
              <Table.Td>{new Date(e.at).toLocaleString()}</Table.Td>
              <Table.Td>
                {e.actor.name} <Badge variant="light">{e.actor.source}</Badge>
              </Table.Td>
              <Table.Td>
                {e.action} {e.entity.kind}
              </Table.Td>
              <Table.Td>
                <DiffView diff={e.diff} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** Field by field, old → new; a secret shows only that it changed (the Manager never sends it). */
function DiffView({ diff }: { diff: Record<string, unknown> }) {
  const fields = Object.entries(diff);
  if (fields.length === 0) return <Text size="xs">—</Text>;
  return (
    <Stack gap={2}>
      {fields.map(([field, change]) => {
        const c = (change ?? {}) as { old?: unknown; new?: unknown; secret?: boolean };
        return (
          <Text key={field} size="xs">
            <Code>{field}</Code>: {c.secret ? 'changed (secret)' : `${JSON.stringify(c.old) ?? '—'} → ${JSON.stringify(c.new) ?? '—'}`}
          </Text>
        );
      })}
    </Stack>
  );
}
