import { Badge, Group, Stack, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { ApiError, api } from '../api/client';
import type { Credential, EndUser } from '../api/types';
import { RowAction } from '../layout/EntityListPanel';
import { usePermissions } from '../permissions/permissions';
import { QueryState } from './QueryState';
import { ErrorAlert, confirmDestructive, useAction } from './actions';

/** One consent as the Manager lists it: given at one environment's consent page. */
interface Consent {
  environment: string;
  clientId: string;
  scopes: string[];
}

/**
 * The OIDC clients an end user agreed to share their profile with (at the Gateways' consent
 * page), one row per client with the environments and scopes; revoking (asked first) removes the
 * consent everywhere, so the next sign-in through that client asks again.
 */
export function EndUserConsents({ projectId, user }: { projectId: string; user: EndUser }) {
  const consents = useQuery({ queryKey: ['consents', user.id], queryFn: () => api<Consent[]>('GET', `/projects/${projectId}/users/${user.id}/consents`) });
  const { can } = usePermissions({ projectId });
  const action = useAction([['consents', user.id]]);
  if (!consents.data) return <QueryState error={consents.error} loading={consents.isLoading} />;
  const byClient = new Map<string, Consent[]>();
  for (const c of consents.data) byClient.set(c.clientId, [...(byClient.get(c.clientId) ?? []), c]);
  const revoke = (clientId: string, clientName: string) =>
    confirmDestructive(
      'Revoke consent',
      `${user.username} is asked again the next time ${clientName} sends them to sign in, in every environment. Tokens already issued stay valid until they expire.`,
      'Revoke',
      () => void action.run(() => api('DELETE', `/projects/${projectId}/users/${user.id}/consents/${clientId}`), `Consent of ${user.username} to ${clientName} revoked`),
    );
  return (
    <Stack>
      <ErrorAlert error={action.error} />
      {byClient.size === 0 ? (
        <Text c="dimmed">{user.username} has consented to no OIDC client. A client whose settings ask for consent shows its consent page at the next sign-in.</Text>
      ) : (
        <Table.ScrollContainer minWidth={420} type="native">
          <Table aria-label={`Consents of ${user.username}`}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>OIDC client</Table.Th>
                <Table.Th>Scopes</Table.Th>
                <Table.Th>Environments</Table.Th>
                {can('credential:write') && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {[...byClient].map(([clientId, given]) => (
                <ConsentRow key={clientId} projectId={projectId} clientId={clientId} given={given} onRevoke={can('credential:write') ? revoke : undefined} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

function ConsentRow({ projectId, clientId, given, onRevoke }: { projectId: string; clientId: string; given: Consent[]; onRevoke?: (clientId: string, name: string) => void }) {
  // The client is a credential of the project: named by its username; one deleted since is named by its id.
  const client = useQuery({
    queryKey: ['credential', clientId],
    queryFn: () => api<Credential>('GET', `/projects/${projectId}/credentials/${clientId}`),
    retry: (_, error) => !(error instanceof ApiError && error.status === 404),
  });
  const name = client.data?.username ?? (client.error ? `${clientId} (deleted)` : clientId);
  const scopes = [...new Set(given.flatMap((c) => c.scopes))];
  return (
    <Table.Tr>
      <Table.Td>{name}</Table.Td>
      <Table.Td>
        <Group gap={4}>
          {scopes.map((s) => (
            <Badge key={s} variant="light" tt="none">
              {s}
            </Badge>
          ))}
        </Group>
      </Table.Td>
      <Table.Td>{given.map((c) => c.environment).join(', ')}</Table.Td>
      {onRevoke && (
        <Table.Td>
          <RowAction label={`Revoke consent to ${name}`} onClick={() => onRevoke(clientId, name)} destructive>
            Revoke
          </RowAction>
        </Table.Td>
      )}
    </Table.Tr>
  );
}
