import { Alert, Button, Center, Divider, Paper, PasswordInput, Stack, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router-dom';
import { api, describeError } from '../api/client';
import { saveSession } from '../api/session';

interface SessionAnswer {
  token: string;
  expiresAt: string;
}

/** An identity source operators may sign in with (GET /auth/sso): names only. */
export interface SsoSource {
  id: string;
  name: string;
  /** An OpenID Provider or a SAML 2.0 IdP: the Manager runs either protocol behind the same start link. */
  type: 'oidc' | 'saml';
  displayName: string;
}

/**
 * Local sign-in, and a "Sign in with" link per operator SSO source. Those links are plain
 * navigations to the Manager, which sends the browser to the IdP (an OpenID Provider or a SAML
 * IdP, the same link either way) and back to this screen with
 * `?sso=complete`; the outcome (a session, or the refusal's detail) is then collected once with
 * POST /auth/sso/session — the Manager never puts a token in a URL.
 */
export function SignInScreen({ onSignedIn }: { onSignedIn: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [searchParams, setSearchParams] = useSearchParams();
  const ssoSources = useQuery({ queryKey: ['auth', 'sso'], queryFn: () => api<SsoSource[]>('GET', '/auth/sso') });
  // The handoff is single-use: collected once even when React runs the effect twice (StrictMode).
  const collecting = useRef(false);
  const returningFromSso = searchParams.get('sso') === 'complete';

  useEffect(() => {
    if (!returningFromSso || collecting.current) return;
    collecting.current = true;
    setSearchParams({}, { replace: true });
    setBusy(true);
    api<SessionAnswer & { username: string }>('POST', '/auth/sso/session')
      .then((session) => {
        saveSession({ token: session.token, expiresAt: session.expiresAt, username: session.username });
        onSignedIn();
      })
      .catch((err: unknown) => setError(describeError(err)))
      .finally(() => setBusy(false));
  }, [returningFromSso, setSearchParams, onSignedIn]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api<SessionAnswer>('POST', '/auth/login', { username, password });
      saveSession({ token: session.token, expiresAt: session.expiresAt, username });
      onSignedIn();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const sources = ssoSources.data ?? [];
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={380} maw="92vw">
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <Title order={1} size="h3">
              Sign in to Identity Manager
            </Title>
            {error && (
              <Alert color="red" role="alert" title="Sign-in failed">
                {error}
              </Alert>
            )}
            <TextInput label="Username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.currentTarget.value)} />
            <PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            <Button type="submit" loading={busy}>
              Sign in
            </Button>
          </Stack>
        </form>
        {sources.length > 0 && (
          <Stack mt="md" gap="xs">
            <Divider label="or" labelPosition="center" />
            {sources.map((source) => (
              <Button key={source.id} component="a" variant="default" href={`/api/v1/auth/sso/${encodeURIComponent(source.name)}/start`}>
                Sign in with {source.displayName}
              </Button>
            ))}
          </Stack>
        )}
      </Paper>
    </Center>
  );
}
