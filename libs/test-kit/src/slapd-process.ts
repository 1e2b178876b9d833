import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually';
import { freePort } from './free-port';
import type { TestCertificate } from './test-pki';

export const SLAPD_SUFFIX = 'dc=example,dc=org';
export const SLAPD_ADMIN_DN = `cn=admin,${SLAPD_SUFFIX}`;

export interface SlapdOptions {
  /** Server certificate (with `subjectAltName=IP:127.0.0.1`) for ldaps:// and StartTLS. */
  tls: TestCertificate;
  /** LDIF added after the start (through the memberof overlay, so `memberOf` is maintained). */
  seed: string;
  adminPassword?: string;
  /**
   * More directives for the database (after the memberof overlay), e.g. a size limit
   * `sizelimit size.soft=5 size.hard=5 size.prtotal=unlimited` (paged searches still get everything).
   */
  databaseDirectives?: string[];
  /** Serve cn=Monitor (readable by anyone): connection counters a spec compares before and after. */
  monitor?: boolean;
}

/**
 * A private OpenLDAP server (Debian's `slapd`, `apt-get install slapd ldap-utils`) on free
 * ports with a temporary slapd.conf: mdb database under `dc=example,dc=org`, the memberof
 * overlay, ldap:// (StartTLS offered) and ldaps://. As root it drops to the `openldap` user, so
 * it never runs privileged. Passwords are readable by no one; binds may check them.
 */
export class SlapdProcess {
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'idm-slapd-'));
  private readonly asRoot = process.getuid?.() === 0;
  ldapPort = 0;
  ldapsPort = 0;

  private constructor(private readonly options: SlapdOptions) {}

  static async start(options: SlapdOptions): Promise<SlapdProcess> {
    const slapd = new SlapdProcess(options);
    await slapd.boot();
    return slapd;
  }

  get ldapUrl(): string {
    return `ldap://127.0.0.1:${this.ldapPort}`;
  }

  get ldapsUrl(): string {
    return `ldaps://127.0.0.1:${this.ldapsPort}`;
  }

  get adminPassword(): string {
    return this.options.adminPassword ?? 'admin-secret';
  }

  private async boot(): Promise<void> {
    this.ldapPort = await freePort();
    this.ldapsPort = await freePort();
    mkdirSync(join(this.dir, 'data'));
    copyFileSync(this.options.tls.certFile, join(this.dir, 'server.pem'));
    copyFileSync(this.options.tls.keyFile, join(this.dir, 'server.key'));
    writeFileSync(join(this.dir, 'slapd.conf'), this.config());
    if (this.asRoot) {
      const [uid, gid] = ['-u', '-g'].map((flag) => Number(spawnSync('id', [flag, 'openldap']).stdout.toString()));
      for (const f of ['', 'data', 'server.pem', 'server.key', 'slapd.conf']) chownSync(join(this.dir, f), uid, gid);
    }
    await this.restart();
    this.add(this.options.seed);
  }

  /** Adds entries (LDIF) as the admin; -M (ManageDsaIT): a `referral` entry is stored as it is, not followed. */
  add(ldif: string): void {
    const add = spawnSync('ldapadd', ['-x', '-M', '-H', this.ldapUrl, '-D', SLAPD_ADMIN_DN, '-w', this.adminPassword], { input: ldif, encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`adding to slapd failed: ${add.stderr}`);
  }

  /** Starts the server again after {@link stop}, same ports and data (a directory outage that ends). */
  async restart(): Promise<void> {
    // Still running (a test failed before its stop): a second server would lose the ports and orphan this one.
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const urls = `${this.ldapUrl}/ ${this.ldapsUrl}/`;
    // -d 0: stay in the foreground (the test owns the process) without logging.
    const drop = this.asRoot ? ['-u', 'openldap', '-g', 'openldap'] : [];
    this.child = spawn('/usr/sbin/slapd', ['-f', join(this.dir, 'slapd.conf'), '-h', urls, '-d', '0', ...drop], { stdio: 'ignore' });
    await eventually(
      async () => spawnSync('ldapsearch', ['-x', '-H', this.ldapUrl, '-b', '', '-s', 'base', 'namingContexts'], { timeout: 5000 }).status,
      (status) => status === 0,
      { what: 'slapd', timeoutMs: 60_000 },
    );
  }

  private config(): string {
    const d = this.dir;
    return [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload memberof',
      `pidfile ${d}/slapd.pid`,
      `TLSCACertificateFile ${d}/server.pem`,
      `TLSCertificateFile ${d}/server.pem`,
      `TLSCertificateKeyFile ${d}/server.key`,
      'database mdb',
      `suffix "${SLAPD_SUFFIX}"`,
      `rootdn "${SLAPD_ADMIN_DN}"`,
      `rootpw ${this.adminPassword}`,
      `directory ${d}/data`,
      'maxsize 67108864',
      'overlay memberof',
      ...(this.options.databaseDirectives ?? []),
      'access to attrs=userPassword by anonymous auth by * none',
      'access to * by * read',
      ...(this.options.monitor ? ['database monitor', 'access to * by * read'] : []),
      '',
    ].join('\n');
  }

  /** Connections the server accepted since it started (cn=Monitor; needs `monitor`), this reading's own included. */
  totalConnections(): number {
    const out = spawnSync('ldapsearch', ['-x', '-LLL', '-H', this.ldapUrl, '-b', 'cn=Total,cn=Connections,cn=Monitor', '-s', 'base', 'monitorCounter'], { encoding: 'utf8' });
    const count = /^monitorCounter: (\d+)$/m.exec(out.stdout)?.[1];
    if (out.status !== 0 || count === undefined) throw new Error(`reading cn=Monitor failed: ${out.stderr}`);
    return Number(count);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
