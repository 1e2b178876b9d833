import { createServer, type Server, type Socket } from 'node:net';
import type { SnapshotIdentitySource } from '@idm/config-bus';
import { UpstreamPolicy } from '@idm/domain';
import { eventually } from '@idm/test-kit';
import { GatewayIdentitySources } from './gateway-identity-sources';
import { upstreamGuard } from '@idm/identity-sources';

/**
 * Identity sources' servers under the upstream address policy at connect time: a refused address
 * is never connected to (a TCP listener standing in for the server counts the connections) and
 * the login fails closed as source_misconfigured; an allowed one is connected to.
 */
describe('identity sources under the upstream address policy', () => {
  let server: Server;
  let port: number;
  const sockets: Socket[] = [];
  let connections = 0;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const entry = (name: string, config: Record<string, unknown>, type: 'ldap' | 'sql' = 'ldap'): SnapshotIdentitySource => ({
    id: `id-${name}`,
    name,
    type,
    projectId: null,
    config,
    secret: null,
    roleMappings: {},
    timeoutMs: 800,
    cacheTtlSeconds: 60,
    enabled: true,
  });
  const ldapAt = (host: string) => ({ url: `ldap://${host}:${port}`, bind: { mode: 'direct', dnTemplate: 'uid={username},dc=example,dc=org' } });
  const sqlAt = (host: string) => ({
    driver: 'postgres',
    host,
    port,
    database: 'users',
    user: 'reader',
    query: 'SELECT pw AS password FROM users WHERE login = :username',
    passwordFormat: 'plain',
  });
  const policy = (allow: string[], deny: string[] = []) => new UpstreamPolicy({ allowInternal: false, allow, deny, ownEndpoints: [] });

  it('never connects to a refused LDAP or SQL server and answers source_misconfigured', async () => {
    const failures: string[] = [];
    const sources = new GatewayIdentitySources({ guard: upstreamGuard(policy([])), onFailure: (_, err) => failures.push(err.message) });
    const view = sources.directoryFor([entry('ldap-loopback', ldapAt('127.0.0.1')), entry('sql-loopback', sqlAt('127.0.0.1'), 'sql'), entry('by-name', ldapAt('localhost'))]);
    try {
      for (const name of ['ldap-loopback', 'sql-loopback', 'by-name'])
        expect(await view.login([name], 'alice', 'alice-pass')).toEqual({ outcome: 'unavailable', code: 'source_misconfigured', source: name });
      expect(connections).toBe(0);
      expect(failures.every((m) => m.includes('upstream policy') && !m.includes('alice-pass'))).toBe(true);
    } finally {
      await sources.close();
    }
  });

  it('refuses a server in UPSTREAM_DENY even where internal addresses are allowed', async () => {
    const sources = new GatewayIdentitySources({ guard: upstreamGuard(policy(['127.0.0.1'], [`127.0.0.1:${port}`])) });
    const view = sources.directoryFor([entry('denied', ldapAt('127.0.0.1'))]);
    try {
      expect(await view.login(['denied'], 'alice', 'alice-pass')).toEqual({ outcome: 'unavailable', code: 'source_misconfigured', source: 'denied' });
      expect(connections).toBe(0);
    } finally {
      await sources.close();
    }
  });

  it('connects to an allowed server (the listener is no LDAP server, so the answer is an outage, never a login)', async () => {
    const sources = new GatewayIdentitySources({ guard: upstreamGuard(policy(['127.0.0.1'])) });
    const view = sources.directoryFor([entry('allowed', ldapAt('127.0.0.1'))]);
    try {
      const login = await view.login(['allowed'], 'alice', 'alice-pass');
      expect(login).toMatchObject({ outcome: 'unavailable', source: 'allowed' });
      await eventually(
        async () => connections,
        (n) => n > 0,
        { what: 'the allowed server to be connected to' },
      );
    } finally {
      await sources.close();
    }
  });
});
