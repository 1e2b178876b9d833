import { Badge, Button, Modal, Stack, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import type { ClientConsentPage, OidcClientSummary } from '../../api/types';
import { EntityListPanel, RowAction } from '../../layout/EntityListPanel';
import { KeysetPager } from '../../layout/KeysetPager';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, confirmDestructive, useAction, useEscapeUnderConfirmation } from '../actions';
import { QueryState } from '../QueryState';

const PAGE = 50;

/**
 * The project's OIDC clients (credentials whose token settings make them one), paged by the
 * server, and who consented to each; an operator who may change credentials revokes a consent
 * here or from the end user's Consents (the same call). A client is configured on its credential
 * (Credentials tab, "OIDC client").
 */
export function OidcClientsPanel({ projectId }: { projectId: string }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors.at(-1);
  const query = new URLSearchParams({ limit: String(PAGE), ...(after ? { after } : {}) });
  const clients = useQuery({
    queryKey: ['oidc-clients', projectId, after ?? null],
    queryFn: () => api<OidcClientSummary[]>('GET', `/projects/${projectId}/oidc-clients?${query.toString()}`),
  });
  const [consentsOf, setConsentsOf] = useState<OidcClientSummary | null>(null);
  const escape = useEscapeUnderConfirmation(consentsOf !== null, () => setConsentsOf(null));
  const list = clients.data ?? [];
  return (
    <EntityListPanel
      title="OIDC clients"
      label="OIDC clients"
      rows={clients.data}
      rowKey={(c) => c.credentialId}
      loading={clients.isLoading}
      loadError={clients.error}
      empty="No OIDC clients yet. Open a credential's “OIDC client” settings on the Credentials tab to let an application sign people in."
      columns={[
        { header: 'Client', cell: (c) => c.username },
        { header: 'Type', cell: (c) => c.clientType },
        { header: 'Redirect URIs', cell: (c) => c.redirectUris.join(', ') || '—' },
        { header: 'Consent', cell: (c) => (c.consentRequired ? 'asked' : 'not asked') },
        {
          header: 'State',
          cell: (c) => (
            <Badge variant="outline" color={c.enabled ? 'teal.9' : 'gray.7'}>
              {c.enabled ? 'enabled' : 'disabled'}
            </Badge>
          ),
        },
      ]}
      actions={(c) => (
        <RowAction label={`Consents to ${c.username}`} onClick={() => setConsentsOf(c)}>
          Consents
        </RowAction>
      )}
      footer={<KeysetPager cursors={cursors} onChange={setCursors} lastKey={list.at(-1)?.username} full={list.length === PAGE} />}
    >
      <Modal {...escape} opened={consentsOf !== null} onClose={() => setConsentsOf(null)} title={`Consents to ${consentsOf?.username ?? ''}`} size="lg">
        {consentsOf && <ClientConsents projectId={projectId} client={consentsOf} />}
      </Modal>
    </EntityListPanel>
  );
}

type Revoke = (userId: string, username: string) => void;

/**
 * The end users who consented to one client, per environment; the Manager walks end users a page
 * at a time, so "More" follows `next`. Revoking (asked first, credential:write only) removes the
 * user's consent to this client in every environment.
 */
export function ClientConsents({ projectId, client }: { projectId: string; client: OidcClientSummary }) {
  const [pages, setPages] = useState<string[]>(['']);
  const { can } = usePermissions({ projectId });
  const action = useAction([['client-consents', projectId, client.credentialId], ['consents']]);
  const revoke: Revoke = (userId, username) =>
    confirmDestructive(
      'Revoke consent',
      `${username} is asked again the next time ${client.username} sends them to sign in, in every environment. Tokens already issued stay valid until they expire.`,
      'Revoke',
      () => void action.run(() => api('DELETE', `/projects/${projectId}/users/${userId}/consents/${client.credentialId}`), `Consent of ${username} to ${client.username} revoked`),
    );
  const onRevoke = can('credential:write') ? revoke : undefined;
  return (
    <Stack>
      <ErrorAlert error={action.error} />
      <Table.ScrollContainer minWidth={420} type="native">
        <Table aria-label={`Consents to ${client.username}`}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>End user</Table.Th>
              <Table.Th>Scopes</Table.Th>
              <Table.Th>Environment</Table.Th>
              {onRevoke && <Table.Th>Actions</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {pages.map((after, i) => (
              <ConsentPageRows
                key={after}
                projectId={projectId}
                clientId={client.credentialId}
                after={after}
                onNext={i === pages.length - 1 ? (next) => setPages((p) => [...p, next]) : undefined}
                onRevoke={onRevoke}
              />
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Text size="sm" c="dimmed">
        A revoked consent is asked for again at the end user&apos;s next sign-in through {client.username}.
      </Text>
    </Stack>
  );
}

/** One page's rows; `onNext` only on the last page loaded (it offers the next); `onRevoke` only for an operator who may revoke. */
function ConsentPageRows({
  projectId,
  clientId,
  after,
  onNext,
  onRevoke,
}: {
  projectId: string;
  clientId: string;
  after: string;
  onNext?: (next: string) => void;
  onRevoke?: Revoke;
}) {
  const columns = onRevoke ? 4 : 3;
  const query = new URLSearchParams({ limit: String(PAGE), ...(after ? { after } : {}) });
  const page = useQuery({
    queryKey: ['client-consents', projectId, clientId, after],
    queryFn: () => api<ClientConsentPage>('GET', `/projects/${projectId}/oidc-clients/${clientId}/consents?${query.toString()}`),
  });
  if (!page.data)
    return (
      <Table.Tr>
        <Table.Td colSpan={columns}>
          <QueryState error={page.error} loading={page.isLoading} />
        </Table.Td>
      </Table.Tr>
    );
  const { items, next } = page.data;
  return (
    <>
      {items.map((c) => (
        <Table.Tr key={`${c.userId} ${c.environment}`}>
          <Table.Td>{c.username}</Table.Td>
          <Table.Td>{c.scopes.join(' ')}</Table.Td>
          <Table.Td>{c.environment}</Table.Td>
          {onRevoke && (
            <Table.Td>
              <RowAction label={`Revoke consent of ${c.username} in ${c.environment}`} onClick={() => onRevoke(c.userId, c.username)} destructive>
                Revoke
              </RowAction>
            </Table.Td>
          )}
        </Table.Tr>
      ))}
      {after === '' && items.length === 0 && next === null && (
        <Table.Tr>
          <Table.Td colSpan={columns}>No end user has consented to this client.</Table.Td>
        </Table.Tr>
      )}
      {next !== null && onNext && (
        <Table.Tr>
          <Table.Td colSpan={columns}>
            <Button variant="default" size="xs" onClick={() => onNext(next)}>
              More end users
            </Button>
          </Table.Td>
        </Table.Tr>
      )}
    </>
  );
}
