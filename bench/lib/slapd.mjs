// A private OpenLDAP server for the LDAP bench (Debian's slapd, as the specs' SlapdProcess of
// @idm/test-kit, which is TypeScript the benches cannot load): plain ldap:// on a free port, mdb
// under dc=example,dc=org, the memberof overlay, a seeded directory; as root it drops to openldap.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcess, stopProcess } from './processes.mjs';

export const SUFFIX = 'dc=example,dc=org';
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;
const ADMIN_DN = `cn=admin,${SUFFIX}`;
const ADMIN_PASSWORD = 'bench-admin';

/** `users`: uid -> password; every user is in the groups `staff` and `admins`. `svc` / `svc-pass` is the service account. */
export async function startSlapd({ users }) {
  const dir = mkdtempSync(join(tmpdir(), 'idm-bench-slapd-'));
  const port = await freePort();
  mkdirSync(join(dir, 'data'));
  writeFileSync(
    join(dir, 'slapd.conf'),
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload memberof',
      `pidfile ${dir}/slapd.pid`,
      'database mdb',
      `suffix "${SUFFIX}"`,
      `rootdn "${ADMIN_DN}"`,
      `rootpw ${ADMIN_PASSWORD}`,
      `directory ${dir}/data`,
      'maxsize 67108864',
      'overlay memberof',
      'access to attrs=userPassword by anonymous auth by * none',
      'access to * by * read',
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(spawnSync('id', [flag, 'openldap']).stdout.toString()));
    for (const f of ['', 'data', 'slapd.conf']) chownSync(join(dir, f), uid, gid);
  }
  const url = `ldap://127.0.0.1:${port}`;
  const child = startProcess('/usr/sbin/slapd', ['-f', join(dir, 'slapd.conf'), '-h', `${url}/`, '-d', '0', ...(asRoot ? ['-u', 'openldap', '-g', 'openldap'] : [])], {
    logFile: join(dir, 'slapd.log'),
  });
  const deadline = Date.now() + 60_000;
  while (spawnSync('ldapsearch', ['-x', '-H', url, '-b', '', '-s', 'base', 'namingContexts'], { timeout: 5000 }).status !== 0) {
    if (Date.now() > deadline) throw new Error('slapd did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  const person = (uid, password) =>
    `dn: uid=${uid},${PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nmail: ${uid}@example.org\nuserPassword: ${password}\n`;
  const uids = Object.keys(users);
  const ldif = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n`,
    `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups\n`,
    person('svc', 'svc-pass'),
    ...uids.map((u) => person(u, users[u])),
    ...['staff', 'admins'].map((cn) => `dn: cn=${cn},${GROUPS}\nobjectClass: groupOfNames\ncn: ${cn}\n${uids.map((u) => `member: uid=${u},${PEOPLE}`).join('\n')}\n`),
  ].join('\n');
  const add = spawnSync('ldapadd', ['-x', '-H', url, '-D', ADMIN_DN, '-w', ADMIN_PASSWORD], { input: ldif, encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`seeding slapd failed: ${add.stderr}`);
  return {
    url,
    pid: child.pid,
    async stop() {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
