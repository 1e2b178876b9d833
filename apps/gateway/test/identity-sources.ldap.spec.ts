import { createServer, type Server, type Socket } from 'node:net';
import type { IdentitySourceDefinition, LdapSourceConfig } from '@idm/domain';
import { ldapSourceConfigSchema } from '@idm/domain';
import { freePort, LDAP_GROUPS, LDAP_PEOPLE, LDAP_SEED, SlapdProcess, TestPki, type TestCertificate } from '@idm/test-kit';
import { IdentitySources } from '../src/identity-sources/identity-sources';
import { LdapSource } from '@idm/identity-sources';

/** Identity sources of type ldap against a real OpenLDAP (slapd) with TLS and a seeded directory. */
describe('LDAP identity source (ldapts against slapd)', () => {
  let slapd: SlapdProcess;
  let ca: TestCertificate;
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const pki = await TestPki.create();
    ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP test CA', ca: true });
    const server = await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' });
    slapd = await SlapdProcess.start({ tls: server, seed: LDAP_SEED });
    // A server that accepts connections and never answers: a hung directory.
    silentPort = await freePort();
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
  }, 180_000);

  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => silent?.close(resolve));
    await slapd?.destroy();
  });

  const direct = (overrides: Record<string, unknown> = {}): LdapSourceConfig =>
    ldapSourceConfigSchema.parse({ url: slapd.ldapUrl, bind: { mode: 'direct', dnTemplate: `uid={username},${LDAP_PEOPLE}` }, ...overrides });
  const search = (overrides: Record<string, unknown> = {}): LdapSourceConfig =>
    ldapSourceConfigSchema.parse({ url: slapd.ldapUrl, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE }, ...overrides });

  it('direct bind verifies the password and reads attributes and memberOf groups', async () => {
    const source = new LdapSource(direct(), null, 10_000);
    expect(await source.check('alice', 'alice-pass')).toEqual({
      outcome: 'verified',
      identity: { username: 'alice', email: 'alice@example.org', displayName: 'Alice Liddell', groups: ['admins', 'staff'] },
    });
    expect(await source.check('alice', 'wrong')).toEqual({ outcome: 'rejected' });
    expect(await source.check('nobody', 'alice-pass')).toEqual({ outcome: 'rejected' });
  });

  it('search-then-bind finds the user with the service account and reads groups by group search', async () => {
    const config = search({ groups: { mode: 'search', baseDn: LDAP_GROUPS, memberAttribute: 'member', groupObjectClass: 'groupOfNames', nameAttribute: 'cn' } });
    const source = new LdapSource(config, 'svc-pass', 10_000);
    const answer = await source.check('bob', 'bob-pass');
    expect(answer).toEqual({ outcome: 'verified', identity: { username: 'bob', email: 'bob@example.org', displayName: 'Bob Builder', groups: ['staff'] } });
    expect(await source.check('bob', 'alice-pass')).toEqual({ outcome: 'rejected' });
  });

  it('a wrong service-account password is source_misconfigured, not a rejected user', async () => {
    const source = new LdapSource(search(), 'not-the-svc-pass', 10_000);
    await expect(source.check('bob', 'bob-pass')).rejects.toMatchObject({ code: 'source_misconfigured' });
  });

  it('ldaps:// and StartTLS verify the server against the CA bundle; without it the TLS handshake fails (source_unavailable)', async () => {
    expect((await new LdapSource(direct({ url: slapd.ldapsUrl, caPem: ca.cert }), null, 10_000).check('alice', 'alice-pass')).outcome).toBe('verified');
    expect((await new LdapSource(direct({ startTls: true, caPem: ca.cert }), null, 10_000).check('alice', 'alice-pass')).outcome).toBe('verified');
    await expect(new LdapSource(direct({ url: slapd.ldapsUrl }), null, 10_000).check('alice', 'alice-pass')).rejects.toMatchObject({ code: 'source_unavailable' });
  });

  it.each([
    ['a filter wildcard', '*'],
    ['a filter injection', 'alice)(|(uid=*'],
    ['an always-true filter', '*)(objectClass=*'],
    ['a NUL byte', 'alice\u0000'],
  ])('search-then-bind: %s in the username matches no one (RFC 4515 escaping)', async (_, username) => {
    const source = new LdapSource(search(), 'svc-pass', 10_000);
    expect(await source.check(username, 'alice-pass')).toEqual({ outcome: 'rejected' });
  });

  it.each([
    ['a DN injection', 'alice,ou=people'],
    ['another RDN', 'x+uid=alice'],
    ['a hex-encoded value', '#0405616c696365'],
  ])('direct bind: %s in the username binds as no one (RFC 4514 escaping)', async (_, username) => {
    const source = new LdapSource(direct(), null, 10_000);
    expect(await source.check(username, 'alice-pass')).toEqual({ outcome: 'rejected' });
  });

  it('an empty password never becomes an unauthenticated bind, and oversized input is refused before the directory', async () => {
    const source = new LdapSource(direct(), null, 10_000);
    expect(await source.check('alice', '')).toEqual({ outcome: 'rejected' });
    expect(await source.check('a'.repeat(300), 'alice-pass')).toEqual({ outcome: 'rejected' });
    expect(await source.check('alice', 'p'.repeat(2000))).toEqual({ outcome: 'rejected' });
  });

  it('a directory that never answers is source_timeout; one that is down is source_unavailable', async () => {
    const hung = new LdapSource(direct({ url: `ldap://127.0.0.1:${silentPort}` }), null, 500);
    await expect(hung.check('alice', 'alice-pass')).rejects.toMatchObject({ code: 'source_timeout' });
    const down = new LdapSource(direct({ url: `ldap://127.0.0.1:${await freePort()}` }), null, 2000);
    await expect(down.check('alice', 'alice-pass')).rejects.toMatchObject({ code: 'source_unavailable' });
  });

  describe('fallback list, role mapping and cache', () => {
    const definition = (name: string, config: LdapSourceConfig, cacheTtlSeconds = 60): IdentitySourceDefinition => ({
      id: `id-${name}`,
      name,
      type: 'ldap',
      config,
      secret: null,
      roleMappings: { admins: ['admin'], staff: ['reader', 'writer'] },
      timeoutMs: 2000,
      cacheTtlSeconds,
    });

    it('maps groups to roles; a source that is down reports its code and the next source answers', async () => {
      const sources = new IdentitySources();
      await sources.load([definition('down', direct({ url: `ldap://127.0.0.1:${await freePort()}` })), definition('corp', direct())]);
      try {
        expect(await sources.login(['down'], 'alice', 'alice-pass')).toEqual({ outcome: 'unavailable', code: 'source_unavailable', source: 'down' });
        expect(await sources.login(['down', 'corp'], 'alice', 'alice-pass')).toMatchObject({ outcome: 'verified', source: 'corp', roles: ['admin', 'reader', 'writer'] });
        expect(await sources.login(['corp'], 'alice', 'wrong')).toEqual({ outcome: 'rejected' });
        // Down and wrong password: no "allow", the outage is what is reported.
        expect(await sources.login(['corp', 'down'], 'alice', 'wrong')).toMatchObject({ outcome: 'unavailable', code: 'source_unavailable' });
      } finally {
        await sources.close();
      }
    });

    it('remembers a success for the TTL (the directory is not asked again) but never a failure', async () => {
      const sources = new IdentitySources();
      const config = direct();
      await sources.load([definition('corp', config)]);
      try {
        expect((await sources.login(['corp'], 'bob', 'bob-pass')).outcome).toBe('verified');
        await slapd.stop();
        // Cached success: verified without the directory; a wrong password is still checked (and the directory is down).
        expect((await sources.login(['corp'], 'bob', 'bob-pass')).outcome).toBe('verified');
        expect(await sources.login(['corp'], 'bob', 'not-bob-pass')).toMatchObject({ outcome: 'unavailable' });
      } finally {
        await sources.close();
        await slapd.restart();
      }
    });
  });
});
