import { MantineProvider } from '@mantine/core';
import { ModalsProvider } from '@mantine/modals';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';

/** jsdom lacks what Mantine measures the window with. */
export function installBrowserShims(): void {
  if (!('matchMedia' in window))
    (window as { matchMedia: unknown }).matchMedia = (query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false,
    });
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}

/**
 * Renders a screen with the providers the app has, over a query cache seeded with what the
 * Manager would have answered (keys as the screens ask): the rendering decisions are tested,
 * not the network. `at`: the route the screen is mounted on (its params, e.g. the project).
 */
export function renderWithCache(ui: ReactElement, seed: [readonly unknown[], unknown][] = [], at?: { route: string; path: string }) {
  installBrowserShims();
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity, enabled: true } } });
  for (const [key, data] of seed) client.setQueryData(key, data);
  return render(
    <MantineProvider>
      <QueryClientProvider client={client}>
        <ModalsProvider>
          {at ? (
            <MemoryRouter initialEntries={[at.path]}>
              <Routes>
                <Route path={at.route} element={ui} />
              </Routes>
            </MemoryRouter>
          ) : (
            <MemoryRouter>{ui}</MemoryRouter>
          )}
        </ModalsProvider>
      </QueryClientProvider>
    </MantineProvider>,
  );
}
