import { SLAPD_SUFFIX } from './slapd-process';

/**
 * The seeded directory of the identity-source specs: people under ou=people, groups
 * (groupOfNames) under ou=groups; the memberof overlay fills each person's memberOf.
 * `svc` is the search-then-bind service account.
 */
export const LDAP_PEOPLE = `ou=people,${SLAPD_SUFFIX}`;
export const LDAP_GROUPS = `ou=groups,${SLAPD_SUFFIX}`;

const person = (uid: string, password: string, name: string) => `dn: uid=${uid},${LDAP_PEOPLE}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${name}
sn: ${name.split(' ').pop()}
mail: ${uid}@example.org
userPassword: ${password}
`;

const group = (cn: string, members: string[]) => `dn: cn=${cn},${LDAP_GROUPS}
objectClass: groupOfNames
cn: ${cn}
${members.map((m) => `member: uid=${m},${LDAP_PEOPLE}`).join('\n')}
`;

export const LDAP_SEED = [
  `dn: ${SLAPD_SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n`,
  `dn: ${LDAP_PEOPLE}\nobjectClass: organizationalUnit\nou: people\n`,
  `dn: ${LDAP_GROUPS}\nobjectClass: organizationalUnit\nou: groups\n`,
  person('alice', 'alice-pass', 'Alice Liddell'),
  person('bob', 'bob-pass', 'Bob Builder'),
  person('svc', 'svc-pass', 'Service Account'),
  group('admins', ['alice']),
  group('staff', ['alice', 'bob']),
].join('\n');
