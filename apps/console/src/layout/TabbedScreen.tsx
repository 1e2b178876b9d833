import { Stack, Tabs, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { useTabParam } from './useTabParam';

export interface ScreenTab {
  value: string;
  label: string;
  panel: ReactNode;
}

/** A screen made of tabs, the open one kept in the URL (`?tab=`); the first tab is the default. */
export function TabbedScreen({ title, intro, tabs }: { title: string; intro?: ReactNode; tabs: ScreenTab[] }) {
  const [tab, setTab] = useTabParam(
    tabs.map((t) => t.value),
    tabs[0].value,
  );
  return (
    <Stack>
      <Title order={2}>{title}</Title>
      {intro}
      <Tabs value={tab} onChange={setTab} keepMounted={false}>
        <Tabs.List>
          {tabs.map((t) => (
            <Tabs.Tab key={t.value} value={t.value}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {tabs.map((t) => (
          <Tabs.Panel key={t.value} value={t.value} pt="md">
            {t.panel}
          </Tabs.Panel>
        ))}
      </Tabs>
    </Stack>
  );
}
