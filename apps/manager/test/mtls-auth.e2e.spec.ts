import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { curl as curlFor, eventually, freePort, TestPki, type TestCertificate } from '@idm/test-kit';
import { startCluster, type Cluster } from './support/cluster';

const run = promisify(execFile);

/**
 * mtls-auth end to end: two Gateway processes with HTTPS listeners (server certificate made by
 * the test), a credential whose truststore (set over the Manager's credential API) holds the
 * client CA, and real `curl --cert --key --cacert`.
 */
describe('mtls-auth on two Gateways over HTTPS', () => {
  const ENV = 'mtls';
  let pki: TestPki;
  let serverCa: TestCertificate;
  let clientCa: TestCertificate;
  const clients: Record<string, TestCertificate> = {};
  let cluster: Cluster;
  let tlsUrls: string[];
  let apiKey: string;
  let projectId: string;

  /** curl with the server CA; `args` add the client certificate or headers. Resolves status + JSON body, or curl's exit code. */
  const curl = async (url: string, args: string[] = []) => {
    try {
      return { ...(await curlFor(['--cacert', serverCa.certFile, ...args, url])), exitCode: 0 };
    } catch (err) {
      return { status: 0, body: undefined, exitCode: (err as { code: number }).code };
    }
  };
  const withCert = (c: TestCertificate) => ['--cert', c.certFile, '--key', c.keyFile];

  beforeAll(async () => {
    pki = await TestPki.create();
    serverCa = await pki.issue('server-ca', { subject: '/CN=Gateway Test Server CA', ca: true });
    const serverCert = await pki.issue('server', { subject: '/CN=127.0.0.1', issuer: serverCa, altName: 'IP:127.0.0.1' });
    clientCa = await pki.issue('client-ca', { subject: '/CN=Partner CA', ca: true });
    clients.partner = await pki.issue('client', { subject: '/CN=partner', issuer: clientCa });
    clients.stranger = await pki.issue('stranger', { subject: '/CN=partner' });
    clients.expired = await pki.issue('expired', { subject: '/CN=partner', issuer: clientCa, expired: true });
    clients.nobody = await pki.issue('nobody', { subject: '/CN=nobody', issuer: clientCa });
    clients.twoCns = await pki.issue('two-cns', { subject: '/CN=partner/CN=other', issuer: clientCa });
    const tlsPorts = [await freePort(), await freePort()];
    cluster = await startCluster({
      environment: ENV,
      gateways: tlsPorts.map((port) => ({ GATEWAY_TLS_PORT: String(port), GATEWAY_TLS_CERT: serverCert.certFile, GATEWAY_TLS_KEY: serverCert.keyFile })),
    });
    tlsUrls = tlsPorts.map((p) => `https://127.0.0.1:${p}`);
    const { admin, echoUrl } = cluster;
    projectId = (await admin.projects.create({ name: 'partners' })).id;
    await admin.proxies.create(projectId, {
      name: 'mtls',
      basePath: '/mtls',
      upstreamUrl: echoUrl,
      methods: ['GET', 'POST'],
      policies: [{ type: 'mtls-auth', config: {} }],
      environments: [ENV],
    });
    await admin.proxies.create(projectId, { name: 'keyed', basePath: '/keyed', upstreamUrl: echoUrl, policies: [{ type: 'api-key', config: {} }], environments: [ENV] });
    const credential = await admin.credentials.create(projectId, { username: 'partner', truststore: [clientCa.cert], access: { acl: { deniedMethods: ['POST'] } } });
    apiKey = credential.apiKey!.key;
    await Promise.all(
      tlsUrls.map((u) =>
        eventually(
          () => curl(`${u}/keyed/x`),
          (r) => r.status === 401,
          { what: `${u}: proxies served over HTTPS`, timeoutMs: 20000 },
        ),
      ),
    );
  }, 120000);

  afterAll(async () => {
    await cluster?.stop();
    await pki?.remove();
  }, 30000);

  it('authenticates curl --cert --key on both gateways and forwards the identity; credential rules apply after it', async () => {
    for (const u of tlsUrls) {
      const ok = await curl(`${u}/mtls/hello?x=1`, withCert(clients.partner));
      expect(ok.status).toBe(200);
      expect(ok.body.headers['x-authenticated-userid']).toBe('partner');
      expect(await curl(`${u}/mtls/hello`, ['-X', 'POST', ...withCert(clients.partner)])).toMatchObject({ status: 403, body: { code: 'acl_method_denied' } });
    }
  });

  it.each([
    ['no certificate', () => [] as string[], 'missing_client_certificate'],
    ['a self-signed stranger with the right CN', () => withCert(clients.stranger), 'untrusted_client_certificate'],
    ['an expired certificate from the right CA', () => withCert(clients.expired), 'untrusted_client_certificate'],
    ['a certificate whose CN maps to no credential', () => withCert(clients.nobody), 'unknown_client_certificate'],
    ['a garbled certificate (two subject CNs)', () => withCert(clients.twoCns), 'malformed_client_certificate'],
  ])('answers %s with 401 and the reason (never a 500)', async (_, args, code) => {
    for (const u of tlsUrls) {
      const r = await curl(`${u}/mtls/hello`, args());
      expect(r).toMatchObject({ status: 401, body: { code, message: expect.any(String), requestId: expect.any(String) } });
    }
  });

  it('sends WWW-Authenticate with the rejection', async () => {
    const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '--cacert', serverCa.certFile, `${tlsUrls[0]}/mtls/x`]);
    expect(stdout).toMatch(/^www-authenticate: ClientCertificate realm="identity-manager"/im);
  });

  it('answers tls_required on the plain HTTP listener', async () => {
    const r = await curl(`${cluster.gateways[0].baseUrl}/mtls/hello`, withCert(clients.partner));
    expect(r).toMatchObject({ status: 401, body: { code: 'tls_required' } });
  });

  it('survives certificate files curl cannot use and non-TLS bytes on the TLS port', async () => {
    const garbage = join(pki.dir, 'garbage.pem');
    await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    expect((await curl(`${tlsUrls[0]}/mtls/hello`, ['--cert', garbage, '--key', clients.partner.keyFile])).exitCode).toBe(58);
    await new Promise<void>((resolve) => {
      const s = connect(Number(new URL(tlsUrls[0]).port), '127.0.0.1', () => s.end('GET /mtls/hello HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.resume();
    });
    expect((await curl(`${tlsUrls[0]}/mtls/hello`, withCert(clients.partner))).status).toBe(200);
  });

  it('serves proxies without mtls-auth over HTTPS unchanged (api-key), and the own endpoints', async () => {
    for (const u of tlsUrls) {
      const ok = await curl(`${u}/keyed/items`, ['-H', `x-api-key: ${apiKey}`]);
      expect(ok.status).toBe(200);
      expect(ok.body.headers['x-authenticated-userid']).toBe('partner');
      expect(ok.body.headers['x-forwarded-proto']).toBe('https');
      expect((await curl(`${u}/health/ready`)).status).toBe(200);
    }
  });

  it('stops accepting a client certificate once the truststore no longer holds its CA', async () => {
    const [credential] = await cluster.admin.credentials.list(projectId);
    await cluster.admin.credentials.update(projectId, credential.id, { truststore: [] });
    for (const u of tlsUrls) {
      await eventually(
        () => curl(`${u}/mtls/hello`, withCert(clients.partner)),
        (r) => r.status === 401 && r.body.code === 'untrusted_client_certificate',
        { what: `${u}: emptied truststore applies` },
      );
    }
  });
});
