import { Anchor, Button, Group, Modal, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { ApiError, api, describeError } from '../api/client';
import type { Environment } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { ErrorAlert, useAction } from './actions';
import { QueryState } from './QueryState';
import { useEnvironmentGateways } from './environment/GatewaysPanel';
import { ageOf, fleetSummary, lastSeenOf } from './environment/gateway-fleet';

/** Environments, the configuration revision their Gateways were last sent and the Gateways serving it, live; a new one for operators who may write them. */
export function EnvironmentsScreen() {
  const environments = useQuery({ queryKey: ['environments'], queryFn: () => api<Environment[]>('GET', '/environments'), refetchInterval: 10_000 });
  const { can } = usePermissions();
  const [creating, { open, close }] = useDisclosure(false);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Environments</Title>
        {can('environment:write') && <Button onClick={open}>New environment</Button>}
      </Group>
      <QueryState error={environments.error} loading={environments.isLoading} />
      {environments.data?.length === 0 && (
        <Text c="dimmed">No environments. Gateways serve one environment each (GATEWAY_ENVIRONMENT): create one, then deploy proxies to it.</Text>
      )}
      {!!environments.data?.length && (
        <Table.ScrollContainer minWidth={720} type="native">
          <Table striped aria-label="Environments">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Description</Table.Th>
                <Table.Th>Published revision</Table.Th>
                <Table.Th>Gateways</Table.Th>
                <Table.Th>Last seen</Table.Th>
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
                  <FleetCells environmentId={e.id} />
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={creating} onClose={close} title="New environment">
        <CreateEnvironmentForm onDone={close} />
      </Modal>
    </Stack>
  );
}

/** The environment's Gateways at a glance (count, in sync or behind) and its freshest report; the Gateways tab has each one. */
function FleetCells({ environmentId }: { environmentId: string }) {
  const gateways = useEnvironmentGateways(environmentId);
  // A failed poll says why rather than keep the last answer, which may no longer be true.
  if (!gateways.fleet || gateways.error) return <Table.Td colSpan={2}>{gateways.error ? describeError(gateways.error) : '…'}</Table.Td>;
  const lastSeen = lastSeenOf(gateways.fleet);
  return (
    <>
      <Table.Td>
        <Anchor component={Link} to={`/environments/${environmentId}?tab=gateways`}>
          {fleetSummary(gateways.fleet)}
        </Anchor>
      </Table.Td>
      <Table.Td>{lastSeen ? ageOf(lastSeen) : '—'}</Table.Td>
    </>
  );
}

function CreateEnvironmentForm({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const action = useAction([['environments']]);
  const fieldError = (field: string) => (action.error instanceof ApiError ? action.error.errors.find((e) => e.path === field)?.message : undefined);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await action.run(() => api('POST', '/environments', { name, ...(description ? { description } : {}) }), `Environment ${name} created`)) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <Stack>
        <ErrorAlert error={action.error} />
        <TextInput
          label="Name"
          required
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          description="Lowercase letters, digits and dashes; a Gateway names it in GATEWAY_ENVIRONMENT"
          error={fieldError('name')}
        />
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} error={fieldError('description')} />
        <Button type="submit">Create environment</Button>
      </Stack>
    </form>
  );
}
