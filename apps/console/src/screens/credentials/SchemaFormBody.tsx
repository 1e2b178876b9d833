import { Button, Group, Stack, Text } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../../api/client';
import { useRequestSchema } from '../../api/openapi';
import { withoutNulls } from '../../forms/form-schema';
import { SchemaForm } from '../../forms/SchemaForm';
import { errorTreeFor } from '../../forms/server-errors';
import { QueryState } from '../QueryState';
import { ErrorAlert, useAction } from '../actions';

interface Props {
  /** Where the form's schema comes from: a route of the OpenAPI document and the part of its body. */
  contract: { method: string; path: string; pointer?: (string | number)[] };
  /** Where the form's value sits in the body the Manager answers about ("" : the whole body). */
  bodyPath: string;
  initial: unknown;
  save: (value: Record<string, unknown>) => Promise<unknown>;
  saved: string;
  submitLabel: string;
  invalidate: unknown[][];
  idPrefix: string;
  intro?: ReactNode;
  onDone: () => void;
  extraActions?: ReactNode;
}

/**
 * A form generated from the Manager's own contract for one request body: the browser checks the
 * schema as the operator types, and the Manager's findings come back on the field they name.
 */
export function SchemaFormBody({ contract, bodyPath, initial, save, saved, submitLabel, invalidate, idPrefix, intro, onDone, extraActions }: Props) {
  const { schema, error } = useRequestSchema(contract.method, contract.path, contract.pointer);
  const [value, setValue] = useState(() => (withoutNulls(initial ?? {}) ?? {}) as Record<string, unknown>);
  const action = useAction(invalidate);
  const issues = action.error instanceof ApiError ? action.error.errors : [];
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await action.run(() => save(value), saved)) onDone();
  };
  if (!schema) return <QueryState error={error} loading={!error} />;
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <Stack>
        {intro && <Text size="sm">{intro}</Text>}
        <ErrorAlert error={action.error} />
        <SchemaForm embedded idPrefix={idPrefix} schema={schema} value={value} onChange={setValue} serverErrors={errorTreeFor(issues, bodyPath)} />
        <Group>
          <Button type="submit">{submitLabel}</Button>
          {extraActions}
        </Group>
      </Stack>
    </form>
  );
}
