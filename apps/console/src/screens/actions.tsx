import { Alert, Text } from '@mantine/core';
import { modals, useModals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent as ReactKeyboardEvent, type ReactNode } from 'react';
import { ApiError, describeError } from '../api/client';

/** A failed call, said with the problem's detail (and its field findings), where the operator was acting. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  const findings = error instanceof ApiError ? error.errors.slice(0, 10) : [];
  return (
    <Alert color="red" role="alert" title="Not done">
      {describeError(error)}
      {findings.length > 0 && (
        <ul>
          {findings.map((f) => (
            <li key={`${f.path}:${f.message}`}>
              {f.path ? <code>{f.path}</code> : null} {f.message}
            </li>
          ))}
        </ul>
      )}
    </Alert>
  );
}

/**
 * Runs one change against the API and refreshes the lists it touched; a refusal is kept to be
 * shown next to the action (the problem's detail), a success is announced.
 */
export function useAction(invalidate: readonly unknown[][]) {
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const run = async (work: () => Promise<unknown>, done?: string): Promise<boolean> => {
    setError(null);
    try {
      await work();
      await Promise.all(invalidate.map((queryKey) => queryClient.invalidateQueries({ queryKey })));
      if (done) notifications.show({ message: done, color: 'green' });
      return true;
    } catch (err) {
      setError(err);
      return false;
    }
  };
  return { run, error, clear: () => setError(null) };
}

/**
 * For a dialog that may open a confirmation over itself: Escape closes the confirmation alone.
 * Outside a Modal.Stack every open Mantine modal closes on Escape (a window listener each), which
 * threw away the dialog under a cancelled confirmation. This dialog closes on an Escape pressed
 * inside it, or with nothing focused (a removed row's button had the focus), never while a
 * confirmation is open over it — not even in the moment before the confirmation takes the focus.
 * A key pressed while a confirmation was open is the confirmation's, even when that confirmation
 * has closed by the time the key reaches this dialog: the confirmations' window listener (the
 * ModalsProvider's, registered when the page mounted, so before any of this dialog's) closes it,
 * and the browser lets React re-render between listeners. So the key's time (`timeStamp`) is
 * compared with when the last confirmation closed, both on the clock events are stamped with.
 */
export function useEscapeUnderConfirmation(opened: boolean, onClose: () => void) {
  const confirming = useModals().modals.length > 0;
  const latest = useRef({ confirming, onClose });
  latest.current = { confirming, onClose };
  const confirmationClosedAt = useRef(-Infinity);
  // In the commit that removes the confirmation: before the key's later listeners run.
  useLayoutEffect(() => {
    if (!confirming) confirmationClosedAt.current = new Event('now').timeStamp;
  }, [confirming]);
  const close = (event: Event) => {
    if (!latest.current.confirming && event.timeStamp > confirmationClosedAt.current) latest.current.onClose();
  };
  useEffect(() => {
    if (!opened) return;
    const unfocused = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.isComposing && event.target === document.body) close(event);
    };
    window.addEventListener('keydown', unfocused);
    return () => window.removeEventListener('keydown', unfocused);
  }, [opened]);
  return {
    closeOnEscape: false,
    onKeyDown: (event: ReactKeyboardEvent<HTMLElement>) => {
      // An open dropdown inside (a select) takes its own Escape, as Mantine's own handling allows.
      if (event.key !== 'Escape' || event.nativeEvent.isComposing || (event.target as HTMLElement).dataset?.mantineStopPropagation === 'true') return;
      close(event.nativeEvent);
    },
  };
}

/** A destructive action asks first, naming what it destroys and what follows. */
export function confirmDestructive(title: string, consequence: ReactNode, confirm: string, onConfirm: () => void): void {
  modals.openConfirmModal({
    title,
    children: <Text size="sm">{consequence}</Text>,
    labels: { confirm, cancel: 'Cancel' },
    confirmProps: { color: 'red' },
    onConfirm,
  });
}
