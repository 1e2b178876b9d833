import { Alert, Button, Code, CopyButton, Stack } from '@mantine/core';
import type { ReactNode } from 'react';

/**
 * A secret in clear, this once (a new API key, an initial access token): the Manager keeps only
 * its hash, and the console forgets it when the dialog closes.
 */
export function ShownOnce({ value, copyLabel, testId, children }: { value: string; copyLabel: string; testId: string; children: ReactNode }) {
  return (
    <Stack>
      <Alert color="yellow" title="Copy it now">
        {children}
      </Alert>
      <Code block data-testid={testId}>
        {value}
      </Code>
      <CopyButton value={value}>{({ copied, copy }) => <Button onClick={copy}>{copied ? 'Copied' : copyLabel}</Button>}</CopyButton>
    </Stack>
  );
}
