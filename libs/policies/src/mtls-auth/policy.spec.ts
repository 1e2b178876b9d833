import type { ConfigSnapshot } from '@idm/config-bus';
import { Socket, type AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { box, configSnapshot, snapshotCredential, snapshotProxy, snapshotSecret, type TestCertificate, TestPki } from '@idm/test-kit';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext, type PolicyRejection } from '../policy';
import { mtlsAuthConfigSchema } from './schema';
import { truststoreOf } from './truststore';

/**
 * The policy against real TLS connections: a Node TLS server configured like the Gateway's
 * HTTPS listener (asks for a certificate, lets every handshake through) hands its server-side
 * socket to the policy. Certificates are made by the openssl CLI in a temp directory.
 */
describe('mtls-auth policy', () => {
  let pki: TestPki;
  let ca: TestCertificate;
  let client: TestCertificate;
  let stranger: TestCertificate;
  let expired: TestCertificate;
  let twoCns: TestCertificate;
  let intermediate: TestCertificate;
  let viaIntermediate: TestCertificate;
  let noStore: TestCertificate;
  let disabled: TestCertificate;
  let server: Server;
  const sockets: { server: TLSSocket; client: TLSSocket }[] = [];
  let pending: ((s: TLSSocket) => void) | null = null;

  beforeAll(async () => {
    pki = await TestPki.create();
    ca = await pki.issue('ca', { subject: '/CN=Partner CA', ca: true });
    const serverCert = await pki.issue('server', { subject: '/CN=localhost', issuer: ca, altName: 'IP:127.0.0.1' });
    client = await pki.issue('client', { subject: '/CN=partner/O=Partner Inc', issuer: ca });
    stranger = await pki.issue('stranger', { subject: '/CN=partner' });
    expired = await pki.issue('expired', { subject: '/CN=partner', issuer: ca, expired: true });
    twoCns = await pki.issue('two-cns', { subject: '/CN=partner/CN=other', issuer: ca });
    intermediate = await pki.issue('intermediate', { subject: '/CN=Partner Issuing CA', issuer: ca, ca: true });
    viaIntermediate = await pki.issue('via-intermediate', { subject: '/CN=partner', issuer: intermediate });
    noStore = await pki.issue('no-store', { subject: '/CN=nostore', issuer: ca });
    disabled = await pki.issue('disabled', { subject: '/CN=retired', issuer: ca });
    server = createServer({ cert: serverCert.cert, key: serverCert.key, requestCert: true, rejectUnauthorized: false }, (s) => pending?.(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    for (const s of sockets) {
      s.client.destroy();
      s.server.destroy();
    }
    await new Promise((r) => server.close(r));
    await pki.remove();
  });

  /** The Gateway side of a fresh TLS connection made with the given client certificate (or none). */
  const handshake = async (cert?: TestCertificate, chain: TestCertificate[] = []): Promise<TLSSocket> => {
    const serverSide = new Promise<TLSSocket>((resolve) => (pending = resolve));
    const c = connect({
      port: (server.address() as AddressInfo).port,
      host: '127.0.0.1',
      rejectUnauthorized: false,
      ...(cert ? { cert: [cert.cert, ...chain.map((x) => x.cert)].join(''), key: cert.key } : {}),
    });
    c.on('error', () => {});
    const s = await serverSide;
    sockets.push({ server: s, client: c });
    return s;
  };

  const cred = (id: string, username: string, extra = {}) => snapshotCredential({ id, username, truststore: [ca.cert], ...extra });
  const snapshot = (config: Record<string, unknown>): ConfigSnapshot =>
    configSnapshot({
      proxies: [snapshotProxy({ id: 'p1', name: 'demo', basePath: '/demo', upstreamUrl: 'http://127.0.0.1:1', methods: ['GET'], policies: [{ type: 'mtls-auth', config }] })],
      credentials: [
        cred('c1', 'partner'),
        cred('c2', 'Partner CA'),
        cred('c3', 'nostore', { truststore: [] }),
        cred('c4', 'retired', { enabled: false }),
        cred('c5', 'badstore', { truststore: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }),
        { ...cred('c6', 'partner'), projectId: 'proj-b' },
      ],
    });
  const run = async (config: Record<string, unknown>, socket: Socket | null, now?: number) => {
    const ctx = createRequestContext({ method: 'GET', path: '/demo/x', headers: {}, query: '', clientIp: '127.0.0.1', socket });
    const env = compileEnvironment(snapshot(config), now === undefined ? {} : { now: () => now });
    const outcome = await env.route('/demo/x')!.runPolicies(ctx);
    return { outcome, ctx };
  };
  const expectReject = (outcome: PolicyRejection | undefined, code: string) =>
    expect(outcome).toMatchObject({ status: 401, code, message: expect.any(String), headers: { 'www-authenticate': 'ClientCertificate realm="identity-manager"' } });

  it('has the documented defaults and a strict schema', () => {
    expect(mtlsAuthConfigSchema.parse({})).toEqual({ match: 'subject-cn', validateChain: true });
    expect(mtlsAuthConfigSchema.safeParse({ match: 'san' }).success).toBe(false);
    expect(mtlsAuthConfigSchema.safeParse({ extra: 1 }).success).toBe(false);
    expect(mtlsAuthConfigSchema.safeParse({ trustStoreSecretId: 'not-an-id' }).success).toBe(false);
  });

  it("authenticates a certificate signed by the credential's CA by its subject CN, in the proxy's project", async () => {
    const { outcome, ctx } = await run({}, await handshake(client));
    expect(outcome).toBeUndefined();
    expect(ctx.identity).toEqual({ credentialId: 'c1', username: 'partner', projectId: 'proj-a' });
    expect(ctx.credential?.id).toBe('c1');
  });

  it('maps by the issuer CN, or by either (subject first)', async () => {
    const socket = await handshake(client);
    expect((await run({ match: 'issuer-cn' }, socket)).ctx.identity?.username).toBe('Partner CA');
    expect((await run({ match: 'either' }, socket)).ctx.identity?.username).toBe('partner');
    const orphan = await handshake(await pki.issue('orphan', { subject: '/CN=nobody-here', issuer: ca }));
    expectReject((await run({}, orphan)).outcome, 'unknown_client_certificate');
    expect((await run({ match: 'either' }, orphan)).ctx.identity?.username).toBe('Partner CA');
  });

  it('accepts a chain through an intermediate the client sends, and not without it', async () => {
    expect((await run({}, await handshake(viaIntermediate, [intermediate]))).outcome).toBeUndefined();
    expectReject((await run({}, await handshake(viaIntermediate))).outcome, 'untrusted_client_certificate');
  });

  it.each([
    ['a self-signed stranger with the right CN', () => stranger, 'untrusted_client_certificate'],
    ['an expired certificate from the right CA', () => expired, 'untrusted_client_certificate'],
    ['a credential with an empty truststore', () => noStore, 'untrusted_client_certificate'],
    ['a certificate with two subject CNs', () => twoCns, 'malformed_client_certificate'],
  ])('rejects %s', async (_, cert, code) => {
    const { outcome, ctx } = await run({}, await handshake(cert()));
    expectReject(outcome, code);
    expect(ctx.identity).toBeNull();
  });

  it('checks validity against the clock (the CA too) and fails closed on an unreadable truststore', async () => {
    const socket = await handshake(client);
    expectReject((await run({}, socket, Date.now() + 400 * 86_400_000)).outcome, 'untrusted_client_certificate');
    expectReject((await run({}, await handshake(await pki.issue('bad', { subject: '/CN=badstore', issuer: ca })))).outcome, 'untrusted_client_certificate');
  });

  it('with validateChain off, accepts any certificate whose CN maps (even self-signed or expired)', async () => {
    expect((await run({ validateChain: false }, await handshake(stranger))).outcome).toBeUndefined();
    expect((await run({ validateChain: false }, await handshake(expired))).outcome).toBeUndefined();
    expectReject((await run({ validateChain: false }, await handshake(await pki.issue('nobody', { subject: '/CN=nobody', issuer: ca })))).outcome, 'unknown_client_certificate');
  });

  it('reports a disabled credential only after the certificate checked out', async () => {
    expectReject((await run({}, await handshake(disabled))).outcome, 'credential_disabled');
  });

  it('rejects a TLS connection without a certificate, and plain HTTP', async () => {
    expectReject((await run({}, await handshake())).outcome, 'missing_client_certificate');
    expectReject((await run({}, new Socket())).outcome, 'tls_required');
    expectReject((await run({}, null)).outcome, 'tls_required');
  });

  it('answers 401 malformed (never throws) when the certificate bytes do not parse', async () => {
    const fake = { encrypted: true, getPeerCertificate: () => ({ raw: Buffer.from('not DER'), subject: { CN: 'partner' }, issuer: { CN: 'x' } }) } as unknown as Socket;
    expectReject((await run({}, fake)).outcome, 'malformed_client_certificate');
    const throwing = {
      encrypted: true,
      getPeerCertificate: () => {
        throw new Error('boom');
      },
    } as unknown as Socket;
    expectReject((await run({}, throwing)).outcome, 'malformed_client_certificate');
  });

  it('runs the credential rules after it (it authenticates)', async () => {
    const env = compileEnvironment(snapshot({}));
    const chain = env.route('/demo/x')!.policies;
    expect(chain.map((p) => p.type)).toEqual(['mtls-auth', 'credential-rules']);
  });

  it("parses a credential's truststore once per revision, not per request", async () => {
    const first = compileEnvironment(snapshot({}));
    const socket = await handshake(client);
    const ctx = () => createRequestContext({ method: 'GET', path: '/demo/x', headers: {}, query: '', clientIp: '127.0.0.1', socket });
    const a = ctx();
    await first.route('/demo/x')!.runPolicies(a);
    const store = truststoreOf(a.credential!);
    const b = ctx();
    await first.route('/demo/x')!.runPolicies(b);
    expect(b.credential).toBe(a.credential);
    expect(truststoreOf(b.credential!)).toBe(store);
    const c = ctx();
    await compileEnvironment(snapshot({})).route('/demo/x')!.runPolicies(c);
    expect(c.credential).not.toBe(a.credential);
    expect(truststoreOf(c.credential!)).not.toBe(store);
  });

  describe('with a trust store from the project secret manager (trustStoreSecretId)', () => {
    const TRUST_ID = '0b6c1f4e-5a8d-4c2b-9e7f-3d2a1c0b9e8f';
    let partnerCa: TestCertificate;
    const withTrustStore = (versions: { kid: string; certificates: string[] }[]) => {
      const proxy = snapshotProxy({
        id: 'p1',
        name: 'demo',
        basePath: '/demo',
        upstreamUrl: 'http://127.0.0.1:1',
        methods: ['GET'],
        policies: [{ type: 'mtls-auth', config: { trustStoreSecretId: TRUST_ID } }],
        secrets: [snapshotSecret(TRUST_ID, 'trust-store', versions)],
      });
      const base = snapshot({});
      return compileEnvironment({ ...base, proxies: [proxy] }, { secrets: box }).route('/demo/x')!;
    };
    const runOn = async (route: ReturnType<typeof withTrustStore>, socket: Socket) => {
      const ctx = createRequestContext({ method: 'GET', path: '/demo/x', headers: {}, query: '', clientIp: '127.0.0.1', socket });
      return { outcome: await route.runPolicies(ctx), ctx };
    };

    beforeAll(async () => {
      partnerCa = await pki.issue('partner-ca', { subject: '/CN=Partner Root 2', ca: true });
    });

    it("checks the chain against the secret's CAs instead of the credential's truststore", async () => {
      const route = withTrustStore([{ kid: 'partner-ca', certificates: [partnerCa.cert] }]);
      const fromPartnerCa = await pki.issue('partner-2', { subject: '/CN=partner', issuer: partnerCa });
      const accepted = await runOn(route, await handshake(fromPartnerCa));
      expect(accepted.outcome).toBeUndefined();
      expect(accepted.ctx.identity?.username).toBe('partner');
      // The credential's own CA no longer counts, and a credential without a truststore is usable.
      expectReject((await runOn(route, await handshake(client))).outcome, 'untrusted_client_certificate');
      expect((await runOn(route, await handshake(await pki.issue('nostore-2', { subject: '/CN=nostore', issuer: partnerCa })))).outcome).toBeUndefined();
    });

    it('accepts every version still within its rotation overlap, and fails closed (503) on a secret without CA certificates', async () => {
      const rotated = withTrustStore([
        { kid: 'old', certificates: [ca.cert] },
        { kid: 'new', certificates: [partnerCa.cert] },
      ]);
      expect((await runOn(rotated, await handshake(client))).outcome).toBeUndefined();
      expect((await runOn(rotated, await handshake(await pki.issue('partner-3', { subject: '/CN=partner', issuer: partnerCa })))).outcome).toBeUndefined();
      expect(withTrustStore([{ kid: 'empty', certificates: [] }]).unavailable).toMatchObject({ status: 503, code: 'proxy_unavailable' });
    });
  });
});
