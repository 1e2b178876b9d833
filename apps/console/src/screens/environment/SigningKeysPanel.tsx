import { Badge, Button, Checkbox, Code, CopyButton, Group, Modal, NumberInput, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../../api/client';
import type { SigningKey } from '../../api/types';
import { usePermissions } from '../../permissions/permissions';
import { ErrorAlert, useAction } from '../actions';
import { QueryState } from '../QueryState';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** What the Gateways publish: every key not yet retired, current or still verifying. */
function jwks(keys: SigningKey[], now = Date.now()) {
  return { keys: keys.filter((k) => k.publishedUntil === null || new Date(k.publishedUntil).getTime() > now).map((k) => k.publicJwk) };
}

function state(key: SigningKey, now = Date.now()): { label: string; color: string } {
  if (key.publishedUntil !== null) return new Date(key.publishedUntil).getTime() > now ? { label: 'verifying only', color: 'gray.8' } : { label: 'retired', color: 'dark' };
  return new Date(key.activatesAt).getTime() > now ? { label: 'published, signs soon', color: 'blue.9' } : { label: 'signing', color: 'teal.9' };
}

/** An environment's token signing keys: generate the first, rotate (gracefully or as compromised), see the JWKS. */
export function SigningKeysPanel({ environmentId }: { environmentId: string }) {
  const keys = useQuery({ queryKey: ['signing-keys', environmentId], queryFn: () => api<SigningKey[]>('GET', `/environments/${environmentId}/signing-keys`) });
  const { can } = usePermissions();
  const writable = can('environment:write');
  const [mode, setMode] = useState<'generate' | 'rotate' | null>(null);
  const list = keys.data ?? [];
  const document = JSON.stringify(jwks(list), null, 2);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>Signing keys</Title>
        {writable && keys.data && (
          <Button onClick={() => setMode(list.length === 0 ? 'generate' : 'rotate')}>{list.length === 0 ? 'Generate signing key' : 'Rotate signing key'}</Button>
        )}
      </Group>
      <QueryState error={keys.error} loading={keys.isLoading} />
      {keys.data?.length === 0 && (
        <Text c="dimmed">No signing key yet. The environment&apos;s Gateways issue no token until one exists: generate one, and its public half is published in the JWKS.</Text>
      )}
      {list.length > 0 && (
        <>
          <Table.ScrollContainer minWidth={560} type="native">
            <Table striped aria-label="Signing keys">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Key id</Table.Th>
                  <Table.Th>Algorithm</Table.Th>
                  <Table.Th>State</Table.Th>
                  <Table.Th>Signs from</Table.Th>
                  <Table.Th>Published until</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.map((k) => (
                  <Table.Tr key={k.id}>
                    <Table.Td>
                      <Code>{k.kid}</Code>
                    </Table.Td>
                    <Table.Td>{k.algorithm}</Table.Td>
                    <Table.Td>
                      <Badge color={state(k).color} variant="outline">
                        {state(k).label}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{new Date(k.activatesAt).toLocaleString()}</Table.Td>
                    <Table.Td>{k.publishedUntil ? new Date(k.publishedUntil).toLocaleString() : '—'}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Group justify="space-between">
            <Title order={4}>JWKS</Title>
            <CopyButton value={document}>
              {({ copied, copy }) => (
                <Button variant="default" size="xs" onClick={copy}>
                  {copied ? 'Copied' : 'Copy JWKS'}
                </Button>
              )}
            </CopyButton>
          </Group>
          <Code block aria-label="JWKS" tabIndex={0}>
            {document}
          </Code>
        </>
      )}
      <Modal opened={mode !== null} onClose={() => setMode(null)} title={mode === 'generate' ? 'Generate signing key' : 'Rotate signing key'}>
        {mode !== null && <KeyForm environmentId={environmentId} rotate={mode === 'rotate'} onDone={() => setMode(null)} />}
      </Modal>
    </Stack>
  );
}

function KeyForm({ environmentId, rotate, onDone }: { environmentId: string; rotate: boolean; onDone: () => void }) {
  const [algorithm, setAlgorithm] = useState<string | null>('RS256');
  const [retireAfter, setRetireAfter] = useState<number | string>('');
  const [compromised, setCompromised] = useState(false);
  const action = useAction([['signing-keys', environmentId]]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = rotate ? { algorithm, compromised, ...(typeof retireAfter === 'number' && !compromised ? { retireAfterSeconds: retireAfter } : {}) } : { algorithm };
    const path = `/environments/${environmentId}/signing-keys${rotate ? '/rotate' : ''}`;
    if (await action.run(() => api('POST', path, body), rotate ? 'Signing key rotated' : 'Signing key generated')) onDone();
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <Stack>
        <ErrorAlert error={action.error} />
        <Select
          label="Algorithm"
          required
          data={ALGORITHMS}
          value={algorithm}
          onChange={setAlgorithm}
          allowDeselect={false}
          description="A key pair is generated by the Manager; its private half never leaves it"
        />
        {rotate && (
          <>
            <NumberInput
              label="Keep the old key published for (seconds)"
              min={0}
              disabled={compromised}
              value={retireAfter}
              onChange={setRetireAfter}
              description="Empty: as long as the longest access token of the environment lives, so no token is cut off"
            />
            <Checkbox
              label="The old key is compromised: retire it now (every token it signed stops verifying)"
              checked={compromised}
              onChange={(e) => setCompromised(e.currentTarget.checked)}
              color="red"
            />
          </>
        )}
        <Button type="submit" color={compromised ? 'red' : undefined}>
          {rotate ? (compromised ? 'Rotate and retire the old key now' : 'Rotate') : 'Generate'}
        </Button>
      </Stack>
    </form>
  );
}
