import { Button } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api/client';
import type { Credential } from '../../api/types';
import { QueryState } from '../QueryState';
import { confirmDestructive, useAction } from '../actions';
import { SchemaFormBody } from './SchemaFormBody';

const TOKEN_SETTINGS = '/api/v1/projects/{projectId}/credentials/{credentialId}/token-settings';

/**
 * How a credential gets tokens at the Gateway's /credential endpoints: grants, lifetimes, scopes,
 * claims and, for an OIDC client, its redirect URIs and client type (the settings' `oidc`).
 */
export function TokenSettingsForm({ projectId, credential, onDone }: { projectId: string; credential: Credential; onDone: () => void }) {
  const base = `/projects/${projectId}/credentials/${credential.id}/token-settings`;
  const current = useQuery({ queryKey: ['token-settings', credential.id], queryFn: () => api<Record<string, unknown> | null>('GET', base) });
  const stop = useAction([
    ['token-settings', credential.id],
    ['credentials', projectId],
  ]);
  if (current.isLoading || current.error) return <QueryState error={current.error} loading={current.isLoading} />;
  const stopping = () =>
    confirmDestructive('Stop issuing tokens', `${credential.username} gets no new tokens; tokens already issued stay valid until they expire.`, 'Stop', () => {
      void stop.run(() => api('DELETE', base), `${credential.username} gets no more tokens`).then((done) => done && onDone());
    });
  return (
    <SchemaFormBody
      contract={{ method: 'PUT', path: TOKEN_SETTINGS }}
      bodyPath=""
      initial={current.data ?? {}}
      idPrefix="token-settings"
      intro={current.data ? undefined : 'This credential cannot get tokens yet; saving these settings lets it.'}
      save={(settings) => api('PUT', base, settings)}
      saved={`Token settings of ${credential.username} saved`}
      submitLabel="Save token settings"
      invalidate={[
        ['token-settings', credential.id],
        ['credentials', projectId],
      ]}
      onDone={onDone}
      extraActions={
        current.data && (
          <Button variant="light" color="red" onClick={stopping}>
            Stop issuing tokens
          </Button>
        )
      }
    />
  );
}
