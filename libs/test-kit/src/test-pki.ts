import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  /** File paths (for curl --cert/--key, GATEWAY_TLS_CERT/KEY). */
  certFile: string;
  keyFile: string;
  /** PEM contents. */
  cert: string;
  key: string;
}

export interface CertificateOptions {
  /** openssl -subj, e.g. "/CN=partner" or "/CN=a/CN=b". */
  subject: string;
  /** Signing certificate; absent: self-signed. */
  issuer?: TestCertificate;
  ca?: boolean;
  /** subjectAltName, e.g. "IP:127.0.0.1". */
  altName?: string;
  /** Already expired (valid 2020-01-01 .. 2020-01-02); needs an issuer. */
  expired?: boolean;
  /** An RSA 2048 key instead of EC P-256 (XML signatures: SAML peers sign with RSA). */
  rsa?: boolean;
}

/** Certificates made on the fly with the openssl CLI in a private temp directory (EC P-256, or RSA 2048 on request). */
export class TestPki {
  private constructor(readonly dir: string) {}

  static async create(): Promise<TestPki> {
    return new TestPki(await mkdtemp(join(tmpdir(), 'idm-pki-')));
  }

  async issue(name: string, o: CertificateOptions): Promise<TestCertificate> {
    const f = (ext: string) => join(this.dir, `${name}.${ext}`);
    const extensions = [
      o.ca ? 'basicConstraints=critical,CA:true' : 'basicConstraints=critical,CA:false',
      o.ca ? 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' : 'keyUsage=critical,digitalSignature',
      ...(o.ca ? [] : ['extendedKeyUsage=clientAuth,serverAuth']),
      ...(o.altName ? [`subjectAltName=${o.altName}`] : []),
      'subjectKeyIdentifier=hash',
    ];
    await writeFile(f('ext'), `[ext]\n${extensions.join('\n')}\n`);
    if (o.rsa) await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', f('key')]);
    else {
      await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ec')]);
      await run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', f('ec'), '-out', f('key')]);
    }
    if (!o.issuer) {
      await run('openssl', ['req', '-x509', '-new', '-key', f('key'), '-subj', o.subject, '-days', '30', '-sha256', '-config', f('ext'), '-extensions', 'ext', '-out', f('pem')], {
        env: { ...process.env, OPENSSL_CONF: f('ext') },
      });
    } else {
      await run('openssl', ['req', '-new', '-key', f('key'), '-subj', o.subject, '-out', f('csr')], { env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
      if (o.expired) await this.signExpired(name, o.issuer);
      else
        await run('openssl', [
          'x509',
          '-req',
          '-in',
          f('csr'),
          '-CA',
          o.issuer.certFile,
          '-CAkey',
          o.issuer.keyFile,
          '-CAcreateserial',
          '-days',
          '30',
          '-sha256',
          '-extfile',
          f('ext'),
          '-extensions',
          'ext',
          '-out',
          f('pem'),
        ]);
    }
    return { certFile: f('pem'), keyFile: f('key'), cert: await readFile(f('pem'), 'utf8'), key: await readFile(f('key'), 'utf8') };
  }

  /** `openssl x509` (3.0) cannot backdate; `openssl ca` can, with a throwaway CA database. */
  private async signExpired(name: string, issuer: TestCertificate): Promise<void> {
    const f = (ext: string) => join(this.dir, `${name}.${ext}`);
    await writeFile(f('index'), '');
    await writeFile(f('serial'), '1000\n');
    await writeFile(
      f('cnf'),
      [
        '[ca]',
        'default_ca = d',
        '[d]',
        `database = ${f('index')}`,
        `new_certs_dir = ${this.dir}`,
        `serial = ${f('serial')}`,
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        'copy_extensions = none',
        '[any]',
        'commonName = supplied',
        '[ext]',
        'basicConstraints=critical,CA:false',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=clientAuth',
        '',
      ].join('\n'),
    );
    await run('openssl', [
      'ca',
      '-batch',
      '-notext',
      '-config',
      f('cnf'),
      '-extensions',
      'ext',
      '-cert',
      issuer.certFile,
      '-keyfile',
      issuer.keyFile,
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200102000000Z',
      '-in',
      f('csr'),
      '-out',
      f('pem'),
    ]);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
