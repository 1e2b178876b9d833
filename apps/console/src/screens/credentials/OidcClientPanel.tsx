import { Badge, Button, Code, Group, Stack, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { api } from '../../api/client';
import type { Credential } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { QueryState } from '../QueryState';
import { ErrorAlert, confirmDestructive, useAction } from '../actions';
import { SchemaFormBody } from './SchemaFormBody';

const TOKEN_SETTINGS = '/api/v1/projects/{projectId}/credentials/{credentialId}/token-settings';
const AUTHORIZATION_CODE = 'authorization_code';

/** The part of the token settings this screen shows and edits (the API's `oidc`, and the grants it goes with). */
export interface OidcClientSettings {
  clientType: 'confidential' | 'public';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  tokenEndpointAuthMethod: string;
  jwks: { keys: unknown[] } | null;
  requirePkce: boolean;
  consentRequired: boolean;
  requirePar: boolean;
  idTokenLifetimeSeconds: number;
}
type TokenSettings = Record<string, unknown> & { grants: string[]; oidc: OidcClientSettings | null };

/**
 * A credential as an OpenID Connect client of the Gateway's OpenID Provider: its settings at a
 * glance (redirect URIs, grant types, client authentication, PKCE, PAR, consent) and a form for
 * them generated from the token settings' `oidc` schema. Saving keeps the other token settings and
 * adds the authorization_code grant an OIDC client needs; stopping removes both (asked first).
 */
export function OidcClientPanel({ projectId, credential }: { projectId: string; credential: Credential }) {
  const base = `/projects/${projectId}/credentials/${credential.id}/token-settings`;
  const current = useQuery({ queryKey: ['token-settings', credential.id], queryFn: () => api<TokenSettings | null>('GET', base) });
  const { can } = usePermissions({ projectId });
  const [editing, setEditing] = useState(false);
  const invalidate = [
    ['token-settings', credential.id],
    ['credentials', projectId],
  ];
  const stop = useAction(invalidate);
  if (current.isLoading || current.error) return <QueryState error={current.error} loading={current.isLoading} />;
  const settings = current.data ?? null;
  const oidc = settings?.oidc ?? null;
  if (editing) {
    return (
      <SchemaFormBody
        // The `oidc` property is "settings or null": the form edits the settings' branch.
        contract={{ method: 'PUT', path: TOKEN_SETTINGS, pointer: ['properties', 'oidc', 'anyOf', 0] }}
        bodyPath="oidc"
        initial={oidc ?? {}}
        idPrefix="oidc"
        intro={oidc ? undefined : `Saving makes ${credential.username} an OIDC client: it gets the authorization_code grant, its other token settings stay.`}
        save={(value) => {
          const grants = settings?.grants ?? [];
          return api('PUT', base, { ...(settings ?? {}), grants: grants.includes(AUTHORIZATION_CODE) ? grants : [...grants, AUTHORIZATION_CODE], oidc: value });
        }}
        saved={`OIDC client settings of ${credential.username} saved`}
        submitLabel="Save OIDC client"
        invalidate={invalidate}
        onDone={() => setEditing(false)}
        extraActions={
          <Button variant="default" onClick={() => setEditing(false)}>
            Cancel
          </Button>
        }
      />
    );
  }
  const stopping = () => {
    const grants = (settings?.grants ?? []).filter((g) => g !== AUTHORIZATION_CODE);
    confirmDestructive(
      'Stop being an OIDC client',
      grants.length > 0
        ? `${credential.username} can no longer send users to sign in; its other grants (${grants.join(', ')}) stay. Tokens already issued stay valid until they expire.`
        : `${credential.username} can no longer send users to sign in, and gets no tokens at all (it has no other grant). Tokens already issued stay valid until they expire.`,
      'Stop',
      () =>
        void stop.run(
          () => (grants.length > 0 ? api('PUT', base, { ...settings, grants, oidc: null }) : api('DELETE', base)),
          `${credential.username} is no longer an OIDC client`,
        ),
    );
  };
  return (
    <Stack>
      <ErrorAlert error={stop.error} />
      {oidc ? (
        <OidcClientSummary grants={settings?.grants ?? []} oidc={oidc} />
      ) : (
        <Text>{credential.username} is not an OIDC client. Make it one to let it send users to the Gateway’s login page (authorization code flow).</Text>
      )}
      {can('credential:write') && (
        <Group>
          <Button onClick={() => setEditing(true)}>{oidc ? 'Edit OIDC client' : 'Make it an OIDC client'}</Button>
          {oidc && (
            <Button variant="light" color="red" onClick={stopping}>
              Stop being an OIDC client
            </Button>
          )}
        </Group>
      )}
    </Stack>
  );
}

const yesNo = (value: boolean) => (value ? 'required' : 'not required');

/** The client's settings as a table of what an operator checks first. */
export function OidcClientSummary({ grants, oidc }: { grants: string[]; oidc: OidcClientSettings }) {
  const uris = (list: string[]): ReactNode =>
    list.length === 0 ? (
      '—'
    ) : (
      <Stack gap={2}>
        {list.map((u) => (
          <Code key={u}>{u}</Code>
        ))}
      </Stack>
    );
  const rows: [string, ReactNode][] = [
    ['Client type', oidc.clientType],
    [
      'Grant types',
      <Group gap={4}>
        {grants.map((g) => (
          <Badge key={g} variant="light" tt="none">
            {g}
          </Badge>
        ))}
      </Group>,
    ],
    ['Redirect URIs', uris(oidc.redirectUris)],
    ['Post-logout redirect URIs', uris(oidc.postLogoutRedirectUris)],
    ['Client authentication', oidc.tokenEndpointAuthMethod],
    ['PKCE', oidc.clientType === 'public' ? 'required (public client)' : yesNo(oidc.requirePkce)],
    ['Pushed authorization requests (PAR)', yesNo(oidc.requirePar)],
    ['User consent', oidc.consentRequired ? 'asked' : 'not asked (first-party client)'],
    ['ID token lifetime', `${oidc.idTokenLifetimeSeconds} s`],
  ];
  return (
    <Table aria-label="OIDC client settings" variant="vertical" withTableBorder>
      <Table.Tbody>
        {rows.map(([name, value]) => (
          <Table.Tr key={name}>
            <Table.Th w={260}>{name}</Table.Th>
            <Table.Td>{value}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
