import { Code, Modal, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import type { CreatedInitialAccessToken, InitialAccessToken } from '../../api/types';
import { EntityListPanel, RowAction } from '../../layout/EntityListPanel';
import { ShownOnce } from '../../layout/ShownOnce';
import { usePermissions } from '../../permissions/permissions';
import { confirmDestructive, useAction } from '../actions';
import { SchemaFormBody } from '../credentials/SchemaFormBody';

const TOKENS = '/api/v1/projects/{projectId}/initial-access-tokens';
const when = (at: string) => new Date(at).toLocaleString();

/** Whether a token can still register a client: not expired, not spent. */
function state(token: InitialAccessToken, now: number): string {
  if (token.usedAt) return `spent ${when(token.usedAt)}`;
  return Date.parse(token.expiresAt) <= now ? 'expired' : 'usable';
}

/**
 * The project's initial access tokens (RFC 7591 §3): whoever holds one may register OIDC clients
 * at the Gateways, so they are handled like credentials — listed with credential:read, created
 * (the token shown once, with a copy button) and revoked (asked first) with credential:write.
 */
export function InitialAccessTokensPanel({ projectId }: { projectId: string }) {
  const path = `/projects/${projectId}/initial-access-tokens`;
  const queryKey = ['initial-access-tokens', projectId];
  const tokens = useQuery({ queryKey, queryFn: () => api<InitialAccessToken[]>('GET', path) });
  const { can } = usePermissions({ projectId });
  const writable = can('credential:write');
  const [creating, setCreating] = useState(false);
  const [issued, setIssued] = useState<CreatedInitialAccessToken | null>(null);
  const action = useAction([queryKey]);
  const now = Date.now();
  const revoke = (token: InitialAccessToken) =>
    confirmDestructive(
      'Revoke initial access token',
      `${token.prefix}… stops registering clients on every Gateway at once. Clients already registered with it stay. This cannot be undone.`,
      'Revoke',
      () => void action.run(() => api('DELETE', `${path}/${token.id}`), `Initial access token ${token.prefix}… revoked`),
    );
  return (
    <EntityListPanel
      title="Initial access tokens"
      level={4}
      label="Initial access tokens"
      rows={tokens.data}
      rowKey={(t) => t.id}
      loading={tokens.isLoading}
      loadError={tokens.error}
      actionError={action.error}
      empty={
        writable
          ? 'No initial access tokens. Create one and give it to whoever registers clients: they present it as a bearer token at /credential/register.'
          : 'No initial access tokens.'
      }
      create={writable ? { label: 'New initial access token', onClick: () => setCreating(true) } : undefined}
      columns={[
        { header: 'Token', cell: (t) => <Code>{t.prefix}…</Code> },
        { header: 'Description', cell: (t) => t.description ?? '—' },
        // Words, not a badge: a badge's label is cut to an ellipsis when the column is squeezed on a phone.
        { header: 'State', cell: (t) => state(t, now) },
        { header: 'Expires', cell: (t) => when(t.expiresAt) },
        { header: 'Single use', cell: (t) => (t.singleUse ? 'yes' : 'no') },
        { header: 'Clients registered', cell: (t) => t.registrations },
      ]}
      actions={
        writable
          ? (t) => (
              <RowAction label={`Revoke initial access token ${t.prefix}`} onClick={() => revoke(t)} destructive>
                Revoke
              </RowAction>
            )
          : undefined
      }
    >
      <Modal opened={creating} onClose={() => setCreating(false)} title="New initial access token">
        <SchemaFormBody
          contract={{ method: 'POST', path: TOKENS }}
          bodyPath=""
          initial={{}}
          idPrefix="initial-access-token"
          intro="Whoever holds the token may register OIDC clients in this project until it expires or you revoke it."
          save={async (value) => setIssued(await api<CreatedInitialAccessToken>('POST', path, value))}
          saved="Initial access token created"
          submitLabel="Create initial access token"
          invalidate={[queryKey]}
          onDone={() => setCreating(false)}
        />
      </Modal>
      <Modal opened={issued !== null} onClose={() => setIssued(null)} title="Your initial access token" closeOnClickOutside={false}>
        {issued && (
          <ShownOnce value={issued.token} copyLabel="Copy token" testId="issued-initial-access-token">
            This is the only time the token is shown. Give it to whoever registers the clients; they send it as{' '}
            <Text span ff="monospace" size="sm">
              Authorization: Bearer …
            </Text>{' '}
            to /credential/register.
          </ShownOnce>
        )}
      </Modal>
    </EntityListPanel>
  );
}
