import { AppShell, Burger, Button, Group, NavLink, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { api } from '../api/client';
import { clearSession, currentSession } from '../api/session';

const SECTIONS = [
  { to: '/projects', label: 'Projects' },
  { to: '/environments', label: 'Environments' },
  { to: '/key-managers', label: 'Key managers' },
  { to: '/access', label: 'Access' },
  { to: '/identity-sources', label: 'Identity sources' },
  { to: '/apiops', label: 'APIops' },
  { to: '/audit', label: 'Audit' },
  { to: '/analytics', label: 'Analytics' },
];

/** The frame of every screen: the sections on the left (a drawer on a narrow window), the operator on top. */
export function Shell({ children, onSignedOut }: { children: ReactNode; onSignedOut: () => void }) {
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const signOut = async () => {
    await api('POST', '/auth/logout').catch(() => undefined);
    clearSession();
    onSignedOut();
  };
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Title order={1} size="h4">
              Identity Manager
            </Title>
          </Group>
          <Group>
            <Text size="sm" aria-label="Signed in as">
              {currentSession()?.username}
            </Text>
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Sections">
        {SECTIONS.map((s) => (
          <NavLink key={s.to} component={Link} to={s.to} label={s.label} active={location.pathname.startsWith(s.to)} onClick={close} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
