import { Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api/client';
import type { BruteForceBlock } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { QueryState } from '../QueryState';

/** Who the environment's Gateways refuse after too many failed authentications, and the way to lift a block early. */
export function BlocksPanel({ environmentId }: { environmentId: string }) {
  const blocks = useQuery({ queryKey: ['blocks', environmentId], queryFn: () => api<BruteForceBlock[]>('GET', `/environments/${environmentId}/blocks`), refetchInterval: 10_000 });
  const action = useAction([['blocks', environmentId]]);
  return (
    <Stack>
      <Title order={3}>Brute-force blocks</Title>
      <QueryState error={blocks.error} loading={blocks.isLoading} />
      <ErrorAlert error={action.error} />
      {blocks.data?.length === 0 && (
        <Text c="dimmed">Nobody is blocked. A credential or an address is blocked here after too many failed authentications, for a lockout that doubles on each repeat.</Text>
      )}
      {!!blocks.data?.length && (
        <Table.ScrollContainer minWidth={560} type="native">
          <Table striped aria-label="Brute-force blocks">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Detector</Table.Th>
                <Table.Th>Credential</Table.Th>
                <Table.Th>Address</Table.Th>
                <Table.Th>Failures</Table.Th>
                <Table.Th>Strike</Table.Th>
                <Table.Th>Until</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {blocks.data.map((b) => (
                <BlockRow key={b.id} block={b} onLift={() => void action.run(() => api('DELETE', `/environments/${environmentId}/blocks/${b.id}`), 'Block lifted')} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

function BlockRow({ block, onLift }: { block: BruteForceBlock; onLift: () => void }) {
  // Lifting needs credential:write at the block's project; an address block is a system matter.
  const { can } = usePermissions(block.projectId ? { projectId: block.projectId } : {});
  const who = block.credential ?? block.address ?? block.id;
  return (
    <Table.Tr>
      <Table.Td>{block.detector}</Table.Td>
      <Table.Td>{block.credential ?? '—'}</Table.Td>
      <Table.Td>{block.address ?? '—'}</Table.Td>
      <Table.Td>{block.failures}</Table.Td>
      <Table.Td>{block.strike}</Table.Td>
      <Table.Td>{new Date(block.until).toLocaleString()}</Table.Td>
      <Table.Td>
        <Group gap="xs">
          {can('credential:write') && (
            <Button
              size="compact-xs"
              variant="light"
              color="red"
              aria-label={`Unblock ${who}`}
              onClick={() => confirmDestructive('Lift block', `${who} may try again at once on every Gateway; its failure count and strikes are forgiven.`, 'Unblock', onLift)}
            >
              Unblock
            </Button>
          )}
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}
