import { Alert, Loader } from '@mantine/core';
import { ApiError, describeError } from '../api/client';

/** Loading and refusal, said the same way on every screen: a 403 names the missing permission. */
export function QueryState({ error, loading }: { error: unknown; loading: boolean }) {
  if (error) {
    const forbidden = error instanceof ApiError && error.status === 403;
    return (
      <Alert color={forbidden ? 'orange' : 'red'} role="alert" title={forbidden ? 'You may not see this' : 'Could not load'}>
        {describeError(error)}
      </Alert>
    );
  }
  // A live status: without a role, a label on the spinner's span is prohibited (axe aria-prohibited-attr).
  return loading ? <Loader role="status" aria-label="Loading" /> : null;
}
