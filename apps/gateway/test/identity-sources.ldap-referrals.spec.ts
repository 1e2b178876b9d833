import { createServer, type Server, type Socket } from 'node:net';
import type { LdapSourceConfig } from '@idm/domain';
import { ldapSourceConfigSchema } from '@idm/domain';
import { LdapSource, parseReferral, referralAllowed, type EndpointGuard } from '@idm/identity-sources';
import { freePort, LDAP_GROUPS, LDAP_PEOPLE, LDAP_SEED, SlapdProcess, TestPki } from '@idm/test-kit';

/**
 * Search result references against two real slapd servers: the source's directory holds two
 * referral entries under ou=people, one naming a second slapd (a branch office holding `erin`),
 * one naming a listener that counts the connections it gets (a server no one may be sent to),
 * and one under ou=groups naming the branch's groups (where `branch-staff` lists frank, a person
 * of the main directory only).
 */
describe('LDAP source: referrals off, and on only to allowed hosts (two slapd servers)', () => {
  let main: SlapdProcess;
  let branch: SlapdProcess;
  let trap: Server;
  let trapPort: number;
  const trapped: Socket[] = [];

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP test CA', ca: true });
    const server = await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' });
    trapPort = await freePort();
    trap = createServer((s) => trapped.push(s));
    await new Promise<void>((resolve) => trap.listen(trapPort, '127.0.0.1', resolve));
    const erin = `dn: uid=erin,${LDAP_PEOPLE}\nobjectClass: inetOrgPerson\nuid: erin\ncn: Erin Branch\nsn: Branch\nmail: erin@branch.example.org\nuserPassword: erin-pass\n`;
    const branchStaff = `dn: cn=branch-staff,${LDAP_GROUPS}\nobjectClass: groupOfNames\ncn: branch-staff\nmember: uid=frank,${LDAP_PEOPLE}\n`;
    branch = await SlapdProcess.start({ tls: server, seed: [LDAP_SEED, erin, branchStaff].join('\n') });
    main = await SlapdProcess.start({ tls: server, seed: LDAP_SEED });
    const referral = (ou: string, url: string) => `dn: ou=${ou},${LDAP_PEOPLE}\nobjectClass: referral\nobjectClass: extensibleObject\nou: ${ou}\nref: ${url}/${LDAP_PEOPLE}\n`;
    main.add([referral('branch', branch.ldapUrl), referral('elsewhere', `ldap://127.0.0.1:${trapPort}`)].join('\n'));
    main.add(`dn: uid=frank,${LDAP_PEOPLE}\nobjectClass: inetOrgPerson\nuid: frank\ncn: Frank Main\nsn: Main\nuserPassword: frank-pass\n`);
    main.add(`dn: ou=branch,${LDAP_GROUPS}\nobjectClass: referral\nobjectClass: extensibleObject\nou: branch\nref: ${branch.ldapUrl}/${LDAP_GROUPS}\n`);
  }, 240_000);

  afterAll(async () => {
    trapped.forEach((s) => s.destroy());
    await new Promise((resolve) => trap?.close(resolve));
    await main?.destroy();
    await branch?.destroy();
  });

  const source = (referrals?: { follow: boolean; allowedHosts: string[] }, guard: EndpointGuard | null = null, groups: object = { mode: 'none' }) => {
    const config: LdapSourceConfig = ldapSourceConfigSchema.parse({
      url: main.ldapUrl,
      bind: { mode: 'search', bindDn: `uid=svc,${LDAP_PEOPLE}`, baseDn: LDAP_PEOPLE },
      groups,
      ...(referrals ? { referrals } : {}),
    });
    return new LdapSource(config, 'svc-pass', 10_000, guard);
  };

  it('off (the default): references are ignored, never followed; users in the tree still log in', async () => {
    expect(await source().check('erin', 'erin-pass')).toEqual({ outcome: 'rejected' });
    expect((await source().check('alice', 'alice-pass')).outcome).toBe('verified');
    expect(trapped).toHaveLength(0);
  });

  it('on: a reference to an allowed host is followed (search there as the service account, bind there as the user)', async () => {
    const port = new URL(branch.ldapUrl).port;
    const answer = await source({ follow: true, allowedHosts: [`127.0.0.1:${port}`] }).check('erin', 'erin-pass');
    expect(answer).toEqual({ outcome: 'verified', identity: { username: 'erin', email: 'erin@branch.example.org', displayName: 'Erin Branch', groups: [] } });
    expect(await source({ follow: true, allowedHosts: [`127.0.0.1:${port}`] }).check('erin', 'alice-pass')).toEqual({ outcome: 'rejected' });
    // The reference to the unlisted port was not followed.
    expect(trapped).toHaveLength(0);
  });

  it('on: a reference to a host not in the allow-list is refused (not connected to), so its user is not found', async () => {
    expect(await source({ follow: true, allowedHosts: ['ldap.example.org', '127.0.0.2', `127.0.0.1:${await freePort()}`] }).check('erin', 'erin-pass')).toEqual({
      outcome: 'rejected',
    });
    expect(await source({ follow: true, allowedHosts: [] }).check('erin', 'erin-pass')).toEqual({ outcome: 'rejected' });
    expect(trapped).toHaveLength(0);
  });

  it('on: an allowed host the upstream address policy refuses is not followed either', async () => {
    const port = Number(new URL(branch.ldapUrl).port);
    const asked: string[] = [];
    const policy: EndpointGuard = async (host, p) => {
      asked.push(`${host}:${p}`);
      return 'internal address';
    };
    // Both references are allowed by the list (any port of 127.0.0.1) and refused by the policy: neither is connected to.
    expect(await source({ follow: true, allowedHosts: ['127.0.0.1'] }, policy).check('erin', 'erin-pass')).toEqual({ outcome: 'rejected' });
    expect(asked.sort()).toEqual([`127.0.0.1:${port}`, `127.0.0.1:${trapPort}`].sort());
    expect(trapped).toHaveLength(0);
  });

  it("on: a group search follows its references too (a branch server's groups), off: it reads this server's groups only", async () => {
    const groups = { mode: 'search', baseDn: LDAP_GROUPS };
    const groupsOf = async (referrals?: { follow: boolean; allowedHosts: string[] }) => {
      const answer = await source(referrals, null, groups).check('frank', 'frank-pass');
      return answer.outcome === 'verified' ? answer.identity.groups : answer;
    };
    expect(await groupsOf()).toEqual([]);
    expect(await groupsOf({ follow: true, allowedHosts: [`127.0.0.1:${new URL(branch.ldapUrl).port}`] })).toEqual(['branch-staff']);
    expect(await groupsOf({ follow: true, allowedHosts: ['ldap.example.org'] })).toEqual([]);
    expect(trapped).toHaveLength(0);
  });

  it('reads references as LDAP URLs only, and matches the allow-list by host and optional port', () => {
    expect(parseReferral('ldap://DC2.Example.org/ou=people,dc=example,dc=org??sub')).toEqual({
      url: 'ldap://dc2.example.org:389',
      host: 'dc2.example.org',
      port: 389,
      baseDn: 'ou=people,dc=example,dc=org',
    });
    expect(parseReferral('ldaps://[2001:db8::1]/ou=a%20b,dc=x')).toMatchObject({ url: 'ldaps://[2001:db8::1]:636', host: '2001:db8::1', port: 636, baseDn: 'ou=a b,dc=x' });
    expect(parseReferral('ldap://10.0.0.1:3389')).toMatchObject({ baseDn: null, port: 3389 });
    for (const uri of ['http://dc2.example.org/', 'ldap://user:pw@dc2.example.org/', 'file:///etc/passwd', 'ldap:///ou=x', 'ldap://dc2/%E0%A4%A'])
      expect(parseReferral(uri)).toBeNull();
    const dc2 = parseReferral('ldap://dc2.example.org:389/')!;
    expect(referralAllowed(dc2, ['DC2.example.org'])).toBe(true);
    expect(referralAllowed(dc2, ['dc2.example.org:389'])).toBe(true);
    expect(referralAllowed(dc2, ['dc2.example.org:636', 'dc2.example.org.evil.test', 'example.org'])).toBe(false);
    expect(referralAllowed(parseReferral('ldaps://[2001:db8::1]/')!, ['[2001:db8::1]:636'])).toBe(true);
  });

  it('the allow-list takes host or host:port only', () => {
    const parse = (allowedHosts: string[]) =>
      ldapSourceConfigSchema.safeParse({ url: 'ldap://dc1.example.org', bind: { mode: 'direct', dnTemplate: 'uid={username},dc=x' }, referrals: { follow: true, allowedHosts } });
    expect(parse(['dc2.example.org', 'dc3.example.org:636', '[2001:db8::1]:389']).success).toBe(true);
    for (const bad of ['ldap://dc2.example.org', 'dc2.example.org/ou=x', 'dc2 example', 'dc2.example.org:', '*']) expect(parse([bad]).success).toBe(false);
    expect(ldapSourceConfigSchema.parse({ url: 'ldap://dc1.example.org', bind: { mode: 'direct', dnTemplate: 'uid={username},dc=x' } }).referrals).toEqual({
      follow: false,
      allowedHosts: [],
    });
  });
});
