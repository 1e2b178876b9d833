import { Badge, Button, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import type { ApiProxy, CredentialRequest } from '../api/types';
import { usePermissions } from '../permissions/permissions';
import { confirmDestructive, useAction } from './actions';
import { EntityListPanel, RowAction } from '../layout/EntityListPanel';

const STATUS_COLOR = { pending: 'blue.9', approved: 'teal.9', rejected: 'red.9' } as const;

/** Self-service credential requests for the project's proxies: the pending ones wait for an operator's decision. */
export function RequestsPanel({ projectId }: { projectId: string }) {
  const requests = useQuery({ queryKey: ['credential-requests', projectId], queryFn: () => api<CredentialRequest[]>('GET', `/projects/${projectId}/credential-requests`) });
  const proxies = useQuery({ queryKey: ['proxies', projectId], queryFn: () => api<ApiProxy[]>('GET', `/projects/${projectId}/proxies`) });
  const { can } = usePermissions({ projectId });
  const decidable = can('credential:write');
  const action = useAction([
    ['credential-requests', projectId],
    ['credentials', projectId],
  ]);
  const proxyName = (id: string) => proxies.data?.find((p) => p.id === id)?.name ?? id;
  const decide = (request: CredentialRequest, approve: boolean) =>
    action.run(
      () => api('POST', `/projects/${projectId}/credential-requests/${request.id}/${approve ? 'approve' : 'reject'}`),
      `Request of ${request.username} ${approve ? 'approved' : 'rejected'}`,
    );
  const reject = (request: CredentialRequest) =>
    confirmDestructive(
      'Reject request',
      `${request.username} gets no credential for ${proxyName(request.proxyId)}; they may ask again.`,
      'Reject',
      () => void decide(request, false),
    );
  // Pending first (the work to do), then the newest decisions.
  const list = [...(requests.data ?? [])].sort((a, b) => Number(b.status === 'pending') - Number(a.status === 'pending') || b.createdAt.localeCompare(a.createdAt));
  return (
    <EntityListPanel
      title="Self-service requests"
      label="Self-service requests"
      rows={requests.data && list}
      rowKey={(r) => r.id}
      loading={requests.isLoading}
      loadError={requests.error}
      actionError={action.error}
      empty="No requests. Set a proxy's self-service to manual or auto and developers can ask for a credential themselves; manual requests wait here for approval."
      columns={[
        { header: 'Username', cell: (r) => r.username },
        { header: 'Proxy', cell: (r) => proxyName(r.proxyId) },
        { header: 'Contact', cell: (r) => r.contact ?? '—' },
        {
          header: 'Status',
          cell: (r) => (
            <>
              <Badge variant="outline" color={STATUS_COLOR[r.status]}>
                {r.status}
              </Badge>
              {r.decidedBy && <Text size="xs">by {r.decidedBy}</Text>}
            </>
          ),
        },
        { header: 'Asked', cell: (r) => new Date(r.createdAt).toLocaleString() },
      ]}
      actions={
        decidable
          ? (r) =>
              r.status === 'pending' && (
                <>
                  <Button size="compact-xs" onClick={() => void decide(r, true)} aria-label={`Approve ${r.username}`}>
                    Approve
                  </Button>
                  <RowAction label={`Reject ${r.username}`} onClick={() => reject(r)} destructive>
                    Reject
                  </RowAction>
                </>
              )
          : undefined
      }
    />
  );
}
