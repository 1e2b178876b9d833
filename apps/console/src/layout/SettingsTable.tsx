import { Table } from '@mantine/core';
import { humanize } from '../forms/schema-titles';

/** A setting's value in words: a switch is On or Off, a list is joined, nothing is a dash. */
function shown(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'On' : 'Off';
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.map(shown).join(', ') || '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value as string | number | bigint);
}

/**
 * Settings as an operator who may not change them sees them: every field the Manager answered,
 * named in words, so a field the API grows shows here with no console change.
 */
export function SettingsTable({ label, settings }: { label: string; settings: Record<string, unknown> | null }) {
  const entries = Object.entries(settings ?? {});
  if (entries.length === 0) return null;
  return (
    <Table aria-label={label} maw={520}>
      <Table.Tbody>
        {entries.map(([name, value]) => (
          <Table.Tr key={name}>
            <Table.Th scope="row">{humanize(name)}</Table.Th>
            <Table.Td>{shown(value)}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
