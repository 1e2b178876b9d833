/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { act, screen } from '@testing-library/react';
import { renderWithCache } from '../../../test/render';
import { AuthRecordFilters, NO_NARROW_FILTERS, choicesByName, narrowQuery, type NarrowFilters } from './AuthRecordFilters';

describe('the analytics filters by proxy, credential, policy and client', () => {
  it('offers each proxy and credential once by name, two alike told apart by id, a chosen one kept when the window lost it', () => {
    expect(
      choicesByName(
        [
          { value: 'c1', label: 'app' },
          { value: 'c1', label: 'app' },
          { value: 'c2', label: 'app' },
          { value: 'c3', label: 'web' },
        ],
        'c9',
      ),
    ).toEqual([
      { value: 'c1', label: 'app (c1)' },
      { value: 'c2', label: 'app (c2)' },
      { value: 'c3', label: 'web' },
      { value: 'c9', label: 'c9' },
    ]);
  });

  it('sends only the filters that are set, under the API names', () => {
    expect(narrowQuery(NO_NARROW_FILTERS)).toEqual({});
    expect(narrowQuery({ proxyId: 'p1', credentialId: null, policy: 'api-key', clientId: '' })).toEqual({ proxyId: 'p1', policy: 'api-key' });
  });

  it('labels every field and sends typed text after a pause, trimmed', () => {
    jest.useFakeTimers();
    try {
      const changes: NarrowFilters[] = [];
      const choices = { byProxy: [{ proxyId: 'p1', proxyName: 'orders', count: 3 }], byCredential: [], topFailingCredentials: [] } as never;
      renderWithCache(<AuthRecordFilters choices={choices} value={NO_NARROW_FILTERS} onChange={(next) => changes.push(next)} />, [
        [['policy-types'], [{ type: 'api-key', schema: {} }]],
      ]);
      for (const name of ['Proxy', 'Credential', 'Policy']) expect(screen.getByRole('combobox', { name })).toBeTruthy();
      const input = screen.getByRole('textbox', { name: 'Client ID' }) as HTMLInputElement;
      act(() => {
        // React reads the value through the native setter; a plain assignment is not seen as an input.
        Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(input, ' spa-client ');
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
      expect(changes).toEqual([]);
      act(() => {
        jest.advanceTimersByTime(500);
      });
      expect(changes).toEqual([{ ...NO_NARROW_FILTERS, clientId: 'spa-client' }]);
    } finally {
      jest.useRealTimers();
    }
  });
});
