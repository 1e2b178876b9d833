/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { Button, Modal } from '@mantine/core';
import { screen, waitFor } from '@testing-library/react';
import { useState } from 'react';
import { flushSync } from 'react-dom';
import { renderWithCache } from '../../test/render';
import { confirmDestructive, useEscapeUnderConfirmation } from './actions';

// A dialog that opens a confirmation over itself (the consents of an OIDC client, of an end user,
// a credential's edit): Escape closes the confirmation alone, even when it arrives before the
// confirmation has taken the focus.
function ConsentsDialog() {
  const [opened, setOpened] = useState(true);
  const escape = useEscapeUnderConfirmation(opened, () => setOpened(false));
  return (
    <Modal {...escape} opened={opened} onClose={() => setOpened(false)} title="Consents to mobile-app">
      <Button aria-label="Revoke consent of cy" onClick={() => confirmDestructive('Revoke consent', 'cy is asked again.', 'Revoke', () => undefined)}>
        Revoke
      </Button>
    </Modal>
  );
}

const escapeOn = (target: Element) => target.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));

describe('useEscapeUnderConfirmation', () => {
  it('closes the confirmation alone on an Escape that reaches the dialog before the confirmation takes the focus', async () => {
    renderWithCache(<ConsentsDialog />);
    const revoke = await screen.findByRole('button', { name: 'Revoke consent of cy' });
    revoke.click();
    await screen.findByText('cy is asked again.');
    // The key goes to the button the operator pressed: the confirmation's focus trap moves the focus
    // in a timer that has not run yet.
    revoke.focus();
    // A browser runs microtasks after each listener of a real key press, so React re-renders
    // between the confirmation's window listener (capture, it closes the confirmation) and the
    // dialog's own handlers. jsdom's scripted dispatch does not; a later capture listener makes it.
    const rerender = () => flushSync(() => undefined);
    window.addEventListener('keydown', rerender, true);
    try {
      escapeOn(revoke);
    } finally {
      window.removeEventListener('keydown', rerender, true);
    }
    await waitFor(() => expect(screen.queryByText('cy is asked again.')).toBeNull());
    expect(screen.getByRole('dialog', { name: 'Consents to mobile-app' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Revoke consent of cy' })).toBeTruthy();
  });

  it('closes the dialog on an Escape pressed inside it with no confirmation open', async () => {
    renderWithCache(<ConsentsDialog />);
    const revoke = await screen.findByRole('button', { name: 'Revoke consent of cy' });
    escapeOn(revoke);
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Consents to mobile-app' })).toBeNull());
  });

  it('closes the dialog on an Escape with the focus on the page (a removed row held it)', async () => {
    renderWithCache(<ConsentsDialog />);
    const revoke = await screen.findByRole('button', { name: 'Revoke consent of cy' });
    revoke.blur();
    escapeOn(document.body);
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Consents to mobile-app' })).toBeNull());
  });
});
