/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { Button, Modal } from '@mantine/core';
import { screen, waitFor } from '@testing-library/react';
import { useState } from 'react';
import { flushSync } from 'react-dom';
import { renderWithCache } from '../../test/render';
import { confirmDestructive, useEscapeUnderConfirmation } from './actions';

// A dialog that opens a confirmation over itself (the consents of an OIDC client, of an end user,
// a credential's edit): Escape closes the confirmation alone, even when it arrives before the
// confirmation has taken the focus. Opened after the page is up, as in the console: the
// confirmations' window listener (the ModalsProvider's, registered when the page mounted) then
// runs before any of this dialog's.
function ConsentsDialog() {
  const [opened, setOpened] = useState(false);
  const escape = useEscapeUnderConfirmation(opened, () => setOpened(false));
  return (
    <>
      <Button onClick={() => setOpened(true)}>Consents</Button>
      <Modal {...escape} opened={opened} onClose={() => setOpened(false)} title="Consents to mobile-app">
        <Button aria-label="Revoke consent of cy" onClick={() => confirmDestructive('Revoke consent', 'cy is asked again.', 'Revoke', () => undefined)}>
          Revoke
        </Button>
      </Modal>
    </>
  );
}

/** The page up, then the dialog opened with its button. */
async function openConsents(): Promise<HTMLElement> {
  renderWithCache(<ConsentsDialog />);
  (await screen.findByRole('button', { name: 'Consents' })).click();
  return screen.findByRole('button', { name: 'Revoke consent of cy' });
}

const escapeOn = (target: Element) => target.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));

/**
 * A browser runs microtasks after each listener of a real key press, so React re-renders between
 * listeners: after the confirmations' window listener (capture) has closed the confirmation, the
 * dialog's own listeners and handlers see a render without it. jsdom's scripted dispatch runs no
 * microtasks meanwhile; here every keydown listener is followed by a React flush, as in a browser.
 */
function flushAfterEachKeydownListener(): () => void {
  const wrappers = new WeakMap<object, EventListener>();
  const wrap = (listener: EventListenerOrEventListenerObject): EventListener => {
    let wrapper = wrappers.get(listener);
    if (!wrapper) {
      wrapper = function (this: unknown, event: Event) {
        if (typeof listener === 'function') listener.call(this, event);
        else listener.handleEvent(event);
        flushSync(() => undefined);
      };
      wrappers.set(listener, wrapper);
    }
    return wrapper;
  };
  // The window's own methods (the test environment's window has them apart from EventTarget.prototype) and every other target's.
  const patched = [window, EventTarget.prototype].map((target) => {
    // Called with each target's own `this` below, as the browser calls them.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const { addEventListener: add, removeEventListener: remove } = target;
    target.addEventListener = function (this: EventTarget, type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions) {
      add.call(this, type, type === 'keydown' && listener ? wrap(listener) : listener, options);
    };
    target.removeEventListener = function (this: EventTarget, type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions) {
      remove.call(this, type, type === 'keydown' && listener ? wrap(listener) : listener, options);
    };
    return () => Object.assign(target, { addEventListener: add, removeEventListener: remove });
  });
  return () => patched.forEach((restore) => restore());
}

describe('useEscapeUnderConfirmation', () => {
  let restore: () => void;
  beforeEach(() => (restore = flushAfterEachKeydownListener()));
  afterEach(() => restore());

  it('closes the confirmation alone on an Escape that reaches the dialog before the confirmation takes the focus', async () => {
    const revoke = await openConsents();
    revoke.click();
    await screen.findByText('cy is asked again.');
    // The key goes to the button the operator pressed: the confirmation's focus trap moves the focus
    // in a timer that has not run yet.
    revoke.focus();
    escapeOn(revoke);
    await waitFor(() => expect(screen.queryByText('cy is asked again.')).toBeNull());
    expect(screen.getByRole('dialog', { name: 'Consents to mobile-app' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Revoke consent of cy' })).toBeTruthy();
  });

  it('closes the dialog on an Escape pressed inside it with no confirmation open', async () => {
    const revoke = await openConsents();
    escapeOn(revoke);
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Consents to mobile-app' })).toBeNull());
  });

  it('closes the dialog on an Escape with the focus on the page (a removed row held it)', async () => {
    const revoke = await openConsents();
    revoke.blur();
    escapeOn(document.body);
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Consents to mobile-app' })).toBeNull());
  });
});
