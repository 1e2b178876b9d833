import type { LdapSourceConfig } from '@idm/domain';
import { ldapSourceConfigSchema } from '@idm/domain';
import { groupsInChain, groupsWithMembers, LdapSource } from '@idm/identity-sources';
import { LDAP_GROUPS, LDAP_PEOPLE, LDAP_SEED, SlapdProcess, TestPki } from '@idm/test-kit';

/**
 * The LDAP source against a directory the size of a company's: groups of groups (with a cycle
 * and a chain deeper than the bound), a user in more groups than the server's size limit, all
 * against a real slapd whose size limit is 5 entries per search (paged searches get everything,
 * as Active Directory's MaxPageSize behaves).
 */
const group = (cn: string, members: string[]) => `dn: cn=${cn},${LDAP_GROUPS}
objectClass: groupOfNames
cn: ${cn}
${members.map((m) => `member: ${m}`).join('\n')}
`;
const person = (uid: string) => `dn: uid=${uid},${LDAP_PEOPLE}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid}
sn: ${uid}
userPassword: ${uid}-pass
`;
const user = (uid: string) => `uid=${uid},${LDAP_PEOPLE}`;
const groupDn = (cn: string) => `cn=${cn},${LDAP_GROUPS}`;
const MANY = Array.from({ length: 12 }, (_, i) => `team-${String(i + 1).padStart(2, '0')}`);

const SEED = [
  LDAP_SEED,
  person('carol'),
  person('dave'),
  // carol: devs -> engineering -> company, and a chain level-1 .. level-4 deeper than maxDepth 2.
  group('devs', [user('carol')]),
  group('engineering', [groupDn('devs')]),
  group('company', [groupDn('engineering')]),
  group('level-1', [user('carol')]),
  group('level-2', [groupDn('level-1')]),
  group('level-3', [groupDn('level-2')]),
  group('level-4', [groupDn('level-3')]),
  // A cycle: loop-a holds carol and loop-b, loop-b holds loop-a.
  group('loop-a', [user('carol'), groupDn('loop-b')]),
  group('loop-b', [groupDn('loop-a')]),
  // dave is in 12 groups, more than the server's size limit of 5.
  ...MANY.map((cn) => group(cn, [user('dave')])),
].join('\n');

describe('LDAP source: nested groups and paging (slapd with a size limit of 5)', () => {
  let slapd: SlapdProcess;

  beforeAll(async () => {
    const pki = await TestPki.create();
    const ca = await pki.issue('ldap-ca', { subject: '/CN=LDAP test CA', ca: true });
    const server = await pki.issue('ldap-server', { subject: '/CN=127.0.0.1', issuer: ca, altName: 'IP:127.0.0.1' });
    slapd = await SlapdProcess.start({ tls: server, seed: SEED, databaseDirectives: ['sizelimit size.soft=5 size.hard=5 size.prtotal=unlimited'] });
  }, 180_000);

  afterAll(async () => {
    await slapd?.destroy();
  });

  const config = (groups: Record<string, unknown>, pageSize?: number): LdapSourceConfig =>
    ldapSourceConfigSchema.parse({
      url: slapd.ldapUrl,
      bind: { mode: 'direct', dnTemplate: `uid={username},${LDAP_PEOPLE}` },
      groups: { mode: 'search', baseDn: LDAP_GROUPS, ...groups },
      ...(pageSize === undefined ? {} : { pageSize }),
    });
  const groupsOf = async (cfg: LdapSourceConfig, uid: string) => {
    const answer = await new LdapSource(cfg, null, 10_000).check(uid, `${uid}-pass`);
    if (answer.outcome !== 'verified') throw new Error(`${uid} was not verified`);
    return answer.identity.groups;
  };

  it('without nesting, only the groups naming the user', async () => {
    expect(await groupsOf(config({}), 'carol')).toEqual(['devs', 'level-1', 'loop-a']);
  });

  it('recursive nesting follows groups of groups to maxDepth levels, and a cycle ends', async () => {
    expect(await groupsOf(config({ nested: 'recursive', maxDepth: 2 }), 'carol')).toEqual(['company', 'devs', 'engineering', 'level-1', 'level-2', 'level-3', 'loop-a', 'loop-b']);
    expect(await groupsOf(config({ nested: 'recursive', maxDepth: 5 }), 'carol')).toEqual([
      'company',
      'devs',
      'engineering',
      'level-1',
      'level-2',
      'level-3',
      'level-4',
      'loop-a',
      'loop-b',
    ]);
  });

  it('a user in more groups than the server size limit gets all of them with paging; without paging the search fails closed', async () => {
    expect(await groupsOf(config({}, 3), 'dave')).toEqual(MANY);
    expect(await groupsOf(config({}), 'dave')).toEqual(MANY);
    await expect(new LdapSource(config({}, 0), null, 10_000).check('dave', 'dave-pass')).rejects.toMatchObject({ code: 'source_unavailable' });
  });

  it('Active Directory mode asks once with LDAP_MATCHING_RULE_IN_CHAIN (RFC 4515 escaping of the DN)', () => {
    const groups = ldapSourceConfigSchema.parse({
      url: 'ldap://dc.example.org',
      bind: { mode: 'direct', dnTemplate: 'CN={username},CN=Users,DC=example,DC=org' },
      groups: { mode: 'search', baseDn: 'DC=example,DC=org', groupObjectClass: 'group', nested: 'inChain' },
    }).groups;
    if (groups.mode !== 'search') throw new Error('search mode expected');
    expect(groupsInChain(groups, 'CN=Smith\\, John (IT)*,CN=Users,DC=example,DC=org').toString()).toBe(
      '(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Smith\\5c, John \\28IT\\29\\2a,CN=Users,DC=example,DC=org))',
    );
    expect(groupsWithMembers(groups, ['CN=a,DC=x', 'CN=b)(cn=*,DC=x']).toString()).toBe('(&(objectClass=group)(|(member=CN=a,DC=x)(member=CN=b\\29\\28cn=\\2a,DC=x)))');
  });
});
