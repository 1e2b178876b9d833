import { Autocomplete, Group, Select, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api } from '../../api/client';
import type { AuthAnalytics, PolicyType } from '../../api/types';
import { reachableClear } from '../../layout/reachable-clear';

/** The narrower filters of GET /analytics/auth and its tail (`authRecordFilterSchema`), as the API names them. */
export interface NarrowFilters {
  proxyId: string | null;
  credentialId: string | null;
  policy: string | null;
  clientId: string | null;
}

export const NO_NARROW_FILTERS: NarrowFilters = { proxyId: null, credentialId: null, policy: null, clientId: null };

/** A recorded policy that is not a proxy policy type: the Gateway's credential token endpoint (others are typed as recorded, e.g. `oidc-login:<client id>`). */
const RECORDED_POLICIES = ['token-endpoint:/credential/token'];

/**
 * Proxy, credential, policy and OAuth client filters. Proxies and credentials are offered by name:
 * the ones with authentications in the window under the broader filters (`choices`, an answer
 * without these four), so every choice can match something. A policy is typed or picked from the
 * policy types; a client id is typed (it is whatever the client presented). Free text reaches
 * the query after a pause, not on every key.
 */
export function AuthRecordFilters({ choices, value, onChange }: { choices: AuthAnalytics | undefined; value: NarrowFilters; onChange: (next: NarrowFilters) => void }) {
  const policyTypes = useQuery({ queryKey: ['policy-types'], queryFn: () => api<PolicyType[]>('GET', '/policy-types'), staleTime: Infinity });
  const [policy, setPolicy] = useState(value.policy ?? '');
  const [clientId, setClientId] = useState(value.clientId ?? '');
  const [typedPolicy] = useDebouncedValue(policy.trim(), 400);
  const [typedClientId] = useDebouncedValue(clientId.trim(), 400);
  useEffect(() => {
    const next = { policy: typedPolicy || null, clientId: typedClientId || null };
    if (next.policy !== value.policy || next.clientId !== value.clientId) onChange({ ...value, ...next });
  }, [typedPolicy, typedClientId, value, onChange]);

  const proxies = choicesByName(
    (choices?.byProxy ?? []).flatMap((p) => (p.proxyId ? [{ value: p.proxyId, label: p.proxyName ?? p.proxyId }] : [])),
    value.proxyId,
  );
  const credentials = choicesByName(
    [...(choices?.byCredential ?? []), ...(choices?.topFailingCredentials ?? [])].flatMap((c) =>
      c.credentialId ? [{ value: c.credentialId, label: c.username ?? c.credentialId }] : [],
    ),
    value.credentialId,
  );
  return (
    <Group align="end">
      <Select
        label="Proxy"
        placeholder="Every proxy"
        clearable
        searchable
        nothingFoundMessage="No proxy with authentications in this window"
        data={proxies}
        clearButtonProps={reachableClear('the proxy filter')}
        value={value.proxyId}
        onChange={(proxyId) => onChange({ ...value, proxyId })}
      />
      <Select
        label="Credential"
        placeholder="Every credential"
        clearable
        searchable
        nothingFoundMessage="No credential with authentications in this window"
        data={credentials}
        clearButtonProps={reachableClear('the credential filter')}
        value={value.credentialId}
        onChange={(credentialId) => onChange({ ...value, credentialId })}
      />
      <Autocomplete
        label="Policy"
        placeholder="Every policy"
        description="A policy type, or as recorded (oidc-login:<client id>)"
        data={[...new Set([...(policyTypes.data ?? []).map((p) => p.type), ...RECORDED_POLICIES])]}
        value={policy}
        onChange={setPolicy}
        maxLength={100}
      />
      <TextInput
        label="Client ID"
        placeholder="Every client"
        description="The OAuth client as presented"
        value={clientId}
        onChange={(e) => setClientId(e.currentTarget.value)}
        maxLength={256}
      />
    </Group>
  );
}

/** Options unique by id, the chosen one kept even when the window no longer holds it (so the field still shows its name). */
export function choicesByName(options: { value: string; label: string }[], chosen: string | null): { value: string; label: string }[] {
  const unique = [...new Map(options.map((o) => [o.value, o])).values()];
  if (chosen && !unique.some((o) => o.value === chosen)) unique.push({ value: chosen, label: chosen });
  // Two names alike (a credential renamed, or equal usernames in two projects) stay apart by id.
  const counts = new Map<string, number>();
  for (const o of unique) counts.set(o.label, (counts.get(o.label) ?? 0) + 1);
  return unique.map((o) => (counts.get(o.label)! > 1 ? { ...o, label: `${o.label} (${o.value})` } : o));
}

/** The query string entries of the narrow filters that are set. */
export function narrowQuery(filters: NarrowFilters): Record<string, string> {
  return Object.fromEntries(Object.entries(filters).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
}
