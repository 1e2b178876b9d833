import { Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router-dom';
import { api } from '../api/client';
import type { Environment } from '../api/types';
import { TabbedScreen } from '../layout/TabbedScreen';
import { BlocksPanel } from './environment/BlocksPanel';
import { GatewaysPanel } from './environment/GatewaysPanel';
import { SigningKeysPanel } from './environment/SigningKeysPanel';
import { QueryState } from './QueryState';

/** One environment: its token signing keys, the brute-force blocks its Gateways enforce and the Gateways themselves, live. */
export function EnvironmentScreen() {
  const { environmentId = '' } = useParams();
  const environment = useQuery({ queryKey: ['environment', environmentId], queryFn: () => api<Environment>('GET', `/environments/${environmentId}`) });
  if (!environment.data) return <QueryState error={environment.error} loading={environment.isLoading} />;
  return (
    <TabbedScreen
      title={`Environment ${environment.data.name}`}
      intro={<Text c="dimmed">Published revision {environment.data.revision}</Text>}
      tabs={[
        { value: 'signing-keys', label: 'Signing keys', panel: <SigningKeysPanel environmentId={environmentId} /> },
        { value: 'blocks', label: 'Brute-force blocks', panel: <BlocksPanel environmentId={environmentId} /> },
        { value: 'gateways', label: 'Gateways', panel: <GatewaysPanel environmentId={environmentId} environmentName={environment.data.name} /> },
      ]}
    />
  );
}
