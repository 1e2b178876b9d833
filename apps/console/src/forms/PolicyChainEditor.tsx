import { ActionIcon, Button, Card, Group, Select, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import type { PolicySpec, PolicyType } from '../api/types';
import { SchemaForm } from './SchemaForm';
import { errorTreeFor, type FieldIssue } from './server-errors';

interface Props {
  policyTypes: PolicyType[];
  value: PolicySpec[];
  onChange: (policies: PolicySpec[]) => void;
  serverIssues: readonly FieldIssue[];
  readOnly?: boolean;
}

function moved<T>(list: T[], from: number, to: number): T[] {
  const next = [...list];
  const [item] = next.splice(from, 1);
  next.splice(to, 0, item);
  return next;
}

/** A proxy's policy chain in the order the Gateway runs it: add, reorder, configure, remove. */
export function PolicyChainEditor({ policyTypes, value, onChange, serverIssues, readOnly }: Props) {
  const [adding, setAdding] = useState<string | null>(null);
  const schemaOf = (type: string) => policyTypes.find((t) => t.type === type)?.schema ?? { type: 'object' };
  return (
    <Stack>
      <Title order={3}>Policy chain</Title>
      {value.length === 0 && <Text c="dimmed">No policies: every request passes to the upstream. Add an authentication policy first.</Text>}
      {value.map((policy, i) => (
        <Card key={`${i}-${policy.type}`} withBorder aria-label={`Policy ${i + 1}: ${policy.type}`}>
          <Group justify="space-between" mb="xs">
            <Text fw={600}>
              {i + 1}. {policy.type}
            </Text>
            {!readOnly && (
              <Group gap={4}>
                <ActionIcon variant="default" aria-label={`Move ${policy.type} up`} disabled={i === 0} onClick={() => onChange(moved(value, i, i - 1))}>
                  ↑
                </ActionIcon>
                <ActionIcon variant="default" aria-label={`Move ${policy.type} down`} disabled={i === value.length - 1} onClick={() => onChange(moved(value, i, i + 1))}>
                  ↓
                </ActionIcon>
                <Button size="compact-sm" variant="subtle" color="red" onClick={() => onChange(value.filter((_, j) => j !== i))}>
                  Remove
                </Button>
              </Group>
            )}
          </Group>
          <fieldset disabled={readOnly} style={{ border: 0, padding: 0, margin: 0 }}>
            <SchemaForm
              idPrefix={`policy-${i}`}
              showDefaults
              schema={schemaOf(policy.type)}
              value={policy.config}
              serverErrors={errorTreeFor(serverIssues, `policies.${i}.config`)}
              onChange={(config) => onChange(value.map((p, j) => (j === i ? { ...p, config } : p)))}
            />
          </fieldset>
        </Card>
      ))}
      {!readOnly && (
        <Group align="end">
          <Select label="Add a policy" placeholder="Choose a policy type" data={policyTypes.map((t) => t.type)} value={adding} onChange={setAdding} searchable />
          <Button
            variant="default"
            disabled={!adding}
            onClick={() => {
              if (!adding) return;
              onChange([...value, { type: adding, config: {} }]);
              setAdding(null);
            }}
          >
            Add policy
          </Button>
        </Group>
      )}
    </Stack>
  );
}
