import { Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { ErrorAlert } from '../screens/actions';
import { QueryState } from '../screens/QueryState';

export interface Column<T> {
  header: string;
  cell: (row: T) => ReactNode;
}

interface Props<T> {
  title: string;
  /** 2 when the panel is a whole screen, 3 (default) when it is a tab of one, 4 when a section of a tab. */
  level?: 2 | 3 | 4;
  /** The table's accessible name (what a screen reader and the e2e tests call it). */
  label: string;
  rows: T[] | undefined;
  rowKey: (row: T) => string;
  columns: Column<T>[];
  /** The query's state: loading and refusal shown the same way on every panel. */
  loading: boolean;
  loadError: unknown;
  /** The last failed change made from this panel (its problem's detail). */
  actionError?: unknown;
  /** What to do next when there is nothing; said instead of an empty table. */
  empty: ReactNode;
  /** The row's actions; an Actions column only when given (the operator may change something). */
  actions?: (row: T) => ReactNode;
  /** The create button, only when the operator may create. */
  create?: { label: string; onClick: () => void };
  /** Filters or paging above or below the table, modals for the forms. */
  toolbar?: ReactNode;
  footer?: ReactNode;
  children?: ReactNode;
}

/**
 * The shape every list panel of the console shares: a heading with its create button, the
 * query's loading or refusal, the last action's problem, an empty state that says what to do,
 * and a table that scrolls in its own box on a narrow window.
 */
export function EntityListPanel<T>({
  title,
  level = 3,
  label,
  rows,
  rowKey,
  columns,
  loading,
  loadError,
  actionError,
  empty,
  actions,
  create,
  toolbar,
  footer,
  children,
}: Props<T>) {
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={level}>{title}</Title>
        {create && <Button onClick={create.onClick}>{create.label}</Button>}
      </Group>
      {toolbar}
      <QueryState error={loadError} loading={loading} />
      <ErrorAlert error={actionError} />
      {rows?.length === 0 && <Text c="dimmed">{empty}</Text>}
      {!!rows?.length && (
        <Table.ScrollContainer minWidth={560} type="native">
          <Table striped aria-label={label}>
            <Table.Thead>
              <Table.Tr>
                {columns.map((c) => (
                  <Table.Th key={c.header}>{c.header}</Table.Th>
                ))}
                {actions && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((row) => (
                <Table.Tr key={rowKey(row)}>
                  {columns.map((c) => (
                    <Table.Td key={c.header}>{c.cell(row)}</Table.Td>
                  ))}
                  {actions && (
                    <Table.Td>
                      <Group gap="xs" wrap="nowrap">
                        {actions(row)}
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {footer}
      {children}
    </Stack>
  );
}

/** A row action button, small and named for the row it acts on (`aria-label`), red when it destroys; `loading` while its call runs. */
export function RowAction({
  label,
  onClick,
  children,
  destructive = false,
  loading = false,
}: {
  label: string;
  onClick: () => void;
  children: ReactNode;
  destructive?: boolean;
  loading?: boolean;
}) {
  return (
    <Button size="compact-xs" variant="light" color={destructive ? 'red' : undefined} onClick={onClick} aria-label={label} loading={loading}>
      {children}
    </Button>
  );
}
