import { ldapSourceConfigSchema } from '@idm/domain';
import { LdapSource } from '@idm/identity-sources';
import { LDAP_PEOPLE, LDAP_SEED, SlapdProcess, TestPki } from '@idm/test-kit';

/**
 * The service account's connection pool of search-then-bind against a real slapd, counted twice:
 * by the pool itself and by the server (cn=Monitor's total of accepted connections).
 */
describe('LDAP source: pooled service-account connections (slapd with cn=Monitor)', () => {
  let slapd: SlapdProcess;

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP test CA', ca: true });
    const server = await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' });
    slapd = await SlapdProcess.start({ tls: server, seed: LDAP_SEED, monitor: true });
  }, 180_000);

  afterAll(async () => {
    await slapd?.destroy();
  });

  const source = (pool: { size: number; idleTimeoutSeconds?: number }, secret = 'svc-pass') =>
    new LdapSource(ldapSourceConfigSchema.parse({ url: slapd.ldapUrl, bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE }, pool }), secret, 10_000);
  /** Connections the server accepted during `work` (the monitor's own reading subtracted). */
  const connectionsDuring = async (work: () => Promise<unknown>) => {
    const before = slapd.totalConnections();
    await work();
    return slapd.totalConnections() - before - 1;
  };
  const logins = (s: LdapSource, n: number) => async () => {
    for (let i = 0; i < n; i++) expect((await s.check(i % 2 ? 'alice' : 'bob', i % 2 ? 'alice-pass' : 'bob-pass')).outcome).toBe('verified');
  };

  it('10 logins open one service connection, not 10: the server counts 11 connections with the pool and 20 without', async () => {
    const pooled = source({ size: 2 });
    const unpooled = source({ size: 0 });
    try {
      expect(await connectionsDuring(logins(pooled, 10))).toBe(11);
      expect(pooled.serviceConnectionsOpened).toBe(1);
      expect(await connectionsDuring(logins(unpooled, 10))).toBe(20);
      expect(unpooled.serviceConnectionsOpened).toBeNull();
    } finally {
      await pooled.close();
    }
  });

  it('concurrent logins share at most `size` service connections; a wrong password and an unknown user leave the pool usable', async () => {
    const pooled = source({ size: 2 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => pooled.check(['alice', 'bob', 'nobody', 'alice'][i % 4]!, i % 4 === 3 ? 'wrong' : `${['alice', 'bob'][i % 4] ?? 'x'}-pass`)),
      );
      expect(answers.map((a) => a.outcome)).toEqual(['verified', 'verified', 'rejected', 'rejected', 'verified', 'verified', 'rejected', 'rejected']);
      expect(pooled.serviceConnectionsOpened).toBeLessThanOrEqual(2);
      await logins(pooled, 2)();
      expect(pooled.serviceConnectionsOpened).toBeLessThanOrEqual(2);
    } finally {
      await pooled.close();
    }
  });

  it('an idle connection is closed after idleTimeoutSeconds, and the next login opens a new one', async () => {
    const pooled = source({ size: 2, idleTimeoutSeconds: 1 });
    try {
      await logins(pooled, 2)();
      expect(pooled.serviceConnectionsOpened).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await logins(pooled, 1)();
      expect(pooled.serviceConnectionsOpened).toBe(2);
    } finally {
      await pooled.close();
    }
  });

  it('a directory restart mid-way: the dead pooled connections are discarded and logins recover', async () => {
    const pooled = source({ size: 2 });
    try {
      await logins(pooled, 3)();
      expect(pooled.serviceConnectionsOpened).toBe(1);
      await slapd.stop();
      await expect(pooled.check('alice', 'alice-pass')).rejects.toMatchObject({ code: 'source_unavailable' });
      await slapd.restart();
      await logins(pooled, 3)();
      // The dead connection was never reused (ldapts would have reconnected it unbound): a new one was opened and kept.
      expect(pooled.serviceConnectionsOpened).toBe(2);
    } finally {
      await pooled.close();
      await slapd.restart();
    }
  });

  it('a wrong service password is source_misconfigured with the pool too, and nothing is kept', async () => {
    const pooled = source({ size: 2 }, 'not-the-svc-pass');
    try {
      await expect(pooled.check('bob', 'bob-pass')).rejects.toMatchObject({ code: 'source_misconfigured' });
      await expect(pooled.check('bob', 'bob-pass')).rejects.toMatchObject({ code: 'source_misconfigured' });
    } finally {
      await pooled.close();
    }
  });
});
