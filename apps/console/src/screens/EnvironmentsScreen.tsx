import { Anchor, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router-dom';
import { api } from '../api/client';
import type { Environment } from '../api/types';
import { QueryState } from './QueryState';

/** Environments and the configuration revision their Gateways were last sent. */
export function EnvironmentsScreen() {
  const environments = useQuery({ queryKey: ['environments'], queryFn: () => api<Environment[]>('GET', '/environments'), refetchInterval: 10_000 });
  return (
    <Stack>
      <Title order={2}>Environments</Title>
      <QueryState error={environments.error} loading={environments.isLoading} />
      {environments.data?.length === 0 && <Text c="dimmed">No environments. Gateways serve one environment each; create one with the API or an APIops bundle.</Text>}
      {!!environments.data?.length && (
        <Table.ScrollContainer minWidth={560} type="native">
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Description</Table.Th>
                <Table.Th>Published revision</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {environments.data.map((e) => (
                <Table.Tr key={e.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/environments/${e.id}`}>
                      {e.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{e.description}</Table.Td>
                  <Table.Td>{e.revision}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
