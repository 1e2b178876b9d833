import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import * as oidc from 'openid-client';
import { samlCertificatePem } from '@idm/identity-sources';
import { eventually, TestPki, type TestCertificate } from '@idm/test-kit';
import { startCluster, type Cluster } from './support/cluster';
import { hostileSamlCases, responseTo, type HostileSamlCase } from './support/hostile-saml-responses';
import { TestSamlIdp, type AuthnRequest } from './support/saml-idp';
import { Browser, errorCodeOf, locationOf } from './support/test-browser';

const ENV = `xsaml-${randomBytes(3).toString('hex')}`;
const MASTER_KEYS = `m1:${randomBytes(32).toString('base64')}`;

/** The ACS POST as the IdP's auto-posting form sends it: cross-site, so the browser's SameSite=Lax cookies stay home. */
const postToAcs = (acsUrl: string, form: Record<string, string>) =>
  fetch(acsUrl, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });

/**
 * SAML 2.0 IdPs as identity sources (#16): a source of type `saml` offers "Sign in with <name>"
 * on the OpenID Provider's login page; the Gateway, as a Service Provider (@node-saml/node-saml),
 * sends an AuthnRequest by HTTP-Redirect to a real IdP peer (assertions signed by `saml`, npm),
 * takes its Response at the ACS, binds it to the login server side (RelayState and InResponseTo,
 * single use in Redis), and finishes on a same-site GET where the browser's cookies prove it is
 * the browser that started. The user is provisioned just in time with the mapped attributes, and
 * the client's code flow (openid-client) ends with our ID token for that end user. Every hostile
 * Response ends on an error page with a 4xx and a reason code, nobody provisioned.
 */
describe('SAML 2.0 IdPs as identity sources (login page "Sign in with", just-in-time end users)', () => {
  const s = randomBytes(3).toString('hex');
  const RP = 'https://rp.example/cb';
  const SECRET = 'xsaml-client-secret';
  const SOURCE = `saml-${s}`;
  let cluster: Cluster;
  let issuer: string;
  /** The second Gateway's own address (both serve the same issuer, the fleet's public URL). */
  let otherGateway: string;
  let pki: TestPki;
  let idp: TestSamlIdp;
  let stranger: TestCertificate;
  /** The SP's AuthnRequest signing key and certificate of the second source. */
  let sp: TestCertificate;
  let projectId: string;
  let sourceId: string;
  let appId: string;

  const endUsers = async () => (await cluster.admin.call('GET', `/api/v1/projects/${projectId}/users`)) as Array<Record<string, any>>;
  const endUser = async (username: string) => (await endUsers()).find((u) => u.username === username);
  const createSource = (body: Record<string, unknown>) => cluster.admin.call('POST', '/api/v1/identity-sources', body);
  const acsOf = (at: string) => `${at}/external/saml/${SOURCE}/acs`;
  const entityOf = (at: string) => `${at}/external/saml/${SOURCE}/metadata`;
  const onOtherGateway = (url: string) => otherGateway + new URL(url).pathname + new URL(url).search;

  beforeAll(async () => {
    pki = await TestPki.create();
    const signer = await pki.issue('idp', { subject: '/CN=test-idp', rsa: true });
    stranger = await pki.issue('stranger', { subject: '/CN=test-idp', rsa: true });
    sp = await pki.issue('sp', { subject: '/CN=idm-sp', rsa: true });
    idp = await TestSamlIdp.start(signer);
    cluster = await startCluster({
      environment: ENV,
      gateways: [{ IDM_MASTER_KEYS: MASTER_KEYS }, { IDM_MASTER_KEYS: MASTER_KEYS }],
      managerEnv: { IDM_MASTER_KEYS: MASTER_KEYS, SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' },
    });
    const admin = cluster.admin;
    issuer = `${cluster.gateways[0]!.baseUrl}/credential`;
    otherGateway = cluster.gateways[1]!.baseUrl;
    const env = await admin.environments.named(ENV);
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await admin.signingKeys.create(env.id, { algorithm: 'RS256', privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
    projectId = (await admin.projects.create({ name: `xsaml-${s}` })).id;
    sourceId = (
      await createSource({
        name: SOURCE,
        type: 'saml',
        projectId,
        config: {
          idpEntityId: idp.entityId,
          ssoUrl: idp.ssoUrl,
          idpCertificates: [signer.cert],
          requiredAttributes: { verified: ['yes'] },
        },
        roleMappings: { staff: ['reader'] },
      })
    ).id;
    // The same IdP again, our AuthnRequests signed (the key sealed as the source's secret).
    await createSource({
      name: `signed-${s}`,
      type: 'saml',
      projectId,
      config: { idpEntityId: idp.entityId, ssoUrl: idp.ssoUrl, idpCertificates: [signer.cert], spCertificate: sp.cert },
      secret: sp.key,
    });
    // The same key, Assertions required encrypted to it.
    await createSource({
      name: `enc-${s}`,
      type: 'saml',
      projectId,
      config: { idpEntityId: idp.entityId, ssoUrl: idp.ssoUrl, idpCertificates: [signer.cert], spCertificate: sp.cert, requireEncryptedAssertions: true },
      secret: sp.key,
    });
    // The project's credentials reach the environments its proxies are deployed to.
    await admin.proxies.create(projectId, {
      name: 'orders',
      basePath: `/orders-${s}`,
      upstreamUrl: cluster.echoUrl,
      environments: [ENV],
      policies: [{ type: 'jwt-auth', config: {} }],
    });
    // A local end user named like an IdP account: the IdP must never take it over.
    await admin.endUsers.create(projectId, { username: 'bob', password: 'local-bob-password', email: 'bob-local@example.org' });
    appId = (await admin.credentials.create(projectId, { username: 'xsaml-app', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, appId, {
      grants: ['authorization_code'],
      oidc: { redirectUris: [RP] },
      identitySources: [SOURCE, `signed-${s}`, `enc-${s}`],
    });
    await eventually(
      async () => (await authorize(appId)).html,
      (html) => html.includes(`Sign in with ${SOURCE}`),
      { what: 'the client and its saml source to reach the Gateway', timeoutMs: 120_000 },
    );
    await eventually(
      async () => (await fetch(onOtherGateway(entityOf(issuer)))).status,
      (status) => status === 200,
      { what: 'the saml source to reach the second Gateway', timeoutMs: 120_000 },
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await idp?.stop();
    await pki?.remove();
  });

  /** Our OP's /authorize for the client, as its app would send it (openid-client); the login page in a fresh browser. */
  async function authorize(clientId: string) {
    const config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: RP,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const browser = new Browser();
    const page = await browser.get(url.href);
    const html = await page.text();
    if (page.status !== 200) throw new Error(`/authorize answered ${page.status}: ${errorCodeOf(html) ?? html.slice(0, 200)}`);
    return { config, verifier, state, nonce, browser, html, csp: page.headers.get('content-security-policy') ?? '' };
  }

  /** From the login page's "Sign in with" to the AuthnRequest the IdP receives. */
  async function started(source = SOURCE) {
    const at = issuer;
    const flow = await authorize(appId);
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(flow.html)![1];
    const res = await flow.browser.postForm(`${at}/external/start`, { transaction: field('transaction'), csrf: field('csrf'), source });
    expect(res.status).toBe(303);
    const toIdp = locationOf(res, at);
    expect(toIdp.startsWith(`${idp.ssoUrl}?`)).toBe(true);
    return { flow, toIdp, request: TestSamlIdp.authnRequestOf(toIdp) };
  }

  /** The IdP signs `login` in and answers its auto-posting form: where it posts, and what. */
  async function signInAtIdp(toIdp: string, login: string): Promise<{ action: string; form: Record<string, string> }> {
    const page = await fetch(`${toIdp}&login=${encodeURIComponent(login)}`);
    const html = await page.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1];
    return { action: /action="([^"]+)"/.exec(html)![1], form: { SAMLResponse: field('SAMLResponse'), RelayState: field('RelayState') } };
  }

  /** Posts a hostile Response for a fresh login: the ACS's status and reason code. */
  async function refusal(login: string, post: (request: AuthnRequest) => Record<string, string>) {
    const { request } = await started();
    const res = await postToAcs(request.acsUrl, post(request));
    return { status: res.status, code: errorCodeOf(await res.text()) };
  }

  it('offers "Sign in with" the saml source, lets the page’s forms reach the IdP (CSP form-action), and sends a well-formed AuthnRequest', async () => {
    const flow = await authorize(appId);
    expect(flow.html).toContain(`Sign in with ${SOURCE}`);
    expect(flow.csp).toContain(new URL(idp.ssoUrl).origin);
    const { request } = await started();
    expect(request).toMatchObject({ acsUrl: acsOf(issuer), issuer: entityOf(issuer) });
    expect(request.id).toMatch(/^_[0-9a-f]{40}$/);
    expect(request.relayState.length).toBeGreaterThanOrEqual(43);
  });

  it('signs the AuthnRequest with the sealed SP key when the source has one (HTTP-Redirect binding signature), and publishes its certificate in the SP metadata', async () => {
    const { toIdp } = await started(`signed-${s}`);
    const query = new URL(toIdp).search.slice(1);
    const raw = (name: string) => query.split('&').find((p) => p.startsWith(`${name}=`))!;
    const params = new URL(toIdp).searchParams;
    expect(params.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const signed = [raw('SAMLRequest'), raw('RelayState'), raw('SigAlg')].join('&');
    expect(verify('sha256', Buffer.from(signed), sp.cert, Buffer.from(params.get('Signature')!, 'base64'))).toBe(true);
    expect(verify('sha256', Buffer.from(signed), stranger.cert, Buffer.from(params.get('Signature')!, 'base64'))).toBe(false);
    const metadata = await (await fetch(`${issuer}/external/saml/signed-${s}/metadata`)).text();
    expect(metadata).toContain('use="signing"');
    expect(metadata).toContain(sp.cert.split('\n')[1]!.slice(0, 40));
    const listed = JSON.stringify(await cluster.admin.call('GET', '/api/v1/identity-sources'));
    expect(listed).not.toContain(sp.key.split('\n')[1]!);
  });

  it('decrypts an Assertion the IdP encrypts to the certificate the SP metadata publishes for encryption: the user signs in; a plain one is still taken where encryption is not required', async () => {
    const metadata = await (await fetch(`${issuer}/external/saml/signed-${s}/metadata`)).text();
    const published = /<KeyDescriptor use="encryption">[\s\S]*?<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(metadata)?.[1];
    expect(published?.replace(/\s+/g, '')).toBe(sp.cert.replace(/-----[^-]+-----|\s+/g, ''));
    // Plain first (the IdP has not read our metadata yet): the source has the key but does not require encryption.
    const plain = await started(`signed-${s}`);
    const before = await postToAcs(plain.request.acsUrl, (await signInAtIdp(plain.toIdp, 'dave')).form);
    expect((await plain.flow.browser.get(locationOf(before, issuer))).status).toBe(303);
    // The IdP imports our metadata and encrypts from now on.
    idp.encryptFor.set(`${issuer}/external/saml/signed-${s}/metadata`, samlCertificatePem(published!));
    const { flow, toIdp, request } = await started(`signed-${s}`);
    const { form } = await signInAtIdp(toIdp, 'erin');
    const sent = Buffer.from(form.SAMLResponse, 'base64').toString('utf8');
    expect(sent).toContain('EncryptedAssertion');
    expect(sent).not.toContain('erin');
    const acs = await postToAcs(request.acsUrl, form);
    expect(acs.status).toBe(303);
    const done = await flow.browser.get(locationOf(acs, issuer));
    expect(done.status).toBe(303);
    const tokens = await oidc.authorizationCodeGrant(flow.config, new URL(locationOf(done, issuer)), {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const erin = await endUser('erin');
    expect(erin).toMatchObject({ email: 'erin@idp.example', identitySource: { name: `signed-${s}` } });
    expect(tokens.claims()!.sub).toBe(erin!.id);
  });

  it.each<[string, string, number, string, (request: AuthnRequest) => Promise<string>]>([
    ['a plain Assertion where encryption is required', 'enc', 401, 'saml_encryption_required', async (r) => idp.response(responseTo(r, 'mallory'))],
    [
      'an Assertion encrypted to another key',
      'enc',
      401,
      'saml_decryption_failed',
      async (r) => idp.response(responseTo(r, 'mallory'), await idp.encryptedAssertion(responseTo(r, 'mallory'), { cert: stranger.cert })),
    ],
    [
      'an encrypted but unsigned Assertion',
      'enc',
      401,
      'saml_signature_invalid',
      async (r) => idp.response(responseTo(r, 'mallory'), await idp.encryptedAssertion(responseTo(r, 'mallory'), { cert: sp.cert, signed: false })),
    ],
    [
      'an encrypted Assertion at a source without an SP key',
      'plain',
      401,
      'saml_decryption_failed',
      async (r) => idp.response(responseTo(r, 'mallory'), await idp.encryptedAssertion(responseTo(r, 'mallory'), { cert: sp.cert })),
    ],
  ])('refuses %s (%s source): %i %s, nobody provisioned', async (_what, which, status, code, post) => {
    const { request } = await started(which === 'enc' ? `enc-${s}` : SOURCE);
    const res = await postToAcs(request.acsUrl, { SAMLResponse: await post(request), RelayState: request.relayState });
    expect({ status: res.status, code: errorCodeOf(await res.text()) }).toEqual({ status, code });
    expect(await endUser('mallory')).toBeUndefined();
  });

  it('serves the SP metadata (entityID, ACS with HTTP-POST, signed assertions wanted)', async () => {
    const res = await fetch(entityOf(issuer));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/samlmetadata+xml');
    const xml = await res.text();
    expect(xml).toContain(`entityID="${entityOf(issuer)}"`);
    expect(xml).toContain(`Location="${acsOf(issuer)}"`);
    expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(xml).toContain('WantAssertionsSigned="true"');
    expect((await fetch(`${issuer}/external/saml/no-such-source/metadata`)).status).toBe(404);
  });

  it('signs a user in through the IdP (its Response taken by the other Gateway): provisioned just in time with the mapped attributes, our ID token names that end user; a replay (on either Gateway) signs no one in', async () => {
    expect(await endUser('alice')).toBeUndefined();
    const { flow, toIdp } = await started();
    const { action, form } = await signInAtIdp(toIdp, 'alice');
    expect(action).toBe(acsOf(issuer));
    // Taken by the other Gateway of the fleet (as a load balancer may send it): the login is bound in the shared Redis.
    const acs = await postToAcs(onOtherGateway(action), form);
    expect(acs.status).toBe(303);
    const next = locationOf(acs, issuer);
    expect(next.startsWith(`${issuer}/external/saml/continue?`)).toBe(true);
    const done = await flow.browser.get(next);
    expect(done.status).toBe(303);
    const back = new URL(locationOf(done, issuer));
    expect(back.origin + back.pathname).toBe(RP);
    const tokens = await oidc.authorizationCodeGrant(flow.config, back, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const alice = await endUser('alice');
    expect(alice).toMatchObject({ hasPassword: false, email: 'alice@idp.example', name: 'IdP alice', roles: ['reader'], identitySource: { id: sourceId, name: SOURCE } });
    expect(tokens.claims()!.sub).toBe(alice!.id);

    // The same Response again: its RelayState's record is spent, here and on the other Gateway (shared Redis).
    for (const at of [acsOf(issuer), onOtherGateway(acsOf(issuer))]) {
      const replay = await postToAcs(at, form);
      expect({ at, status: replay.status, code: errorCodeOf(await replay.text()) }).toEqual({ at, status: 400, code: 'login_expired' });
    }
    // The continuation is single use too.
    const again = await flow.browser.get(next);
    expect(again.status).toBe(400);

    // A second sign-in uses the same end user.
    const second = await started();
    const posted = await postToAcs(acsOf(issuer), (await signInAtIdp(second.toIdp, 'alice')).form);
    expect((await second.flow.browser.get(locationOf(posted, issuer))).status).toBe(303);
    expect((await endUsers()).filter((u) => u.username === 'alice')).toHaveLength(1);
  });

  it('refuses a verified Response continued by another browser (no CSRF cookie of the transaction): nobody signed in', async () => {
    const { toIdp } = await started();
    const acs = await postToAcs(acsOf(issuer), (await signInAtIdp(toIdp, 'carol')).form);
    expect(acs.status).toBe(303);
    const elsewhere = await new Browser().get(locationOf(acs, issuer));
    expect(elsewhere.status).toBe(403);
    expect(errorCodeOf(await elsewhere.text())).toBe('csrf_failed');
    expect(await endUser('carol')).toBeUndefined();
  });

  it.each<HostileSamlCase>(
    hostileSamlCases(() => ({ idp, stranger }), { unsolicited: 'unsolicited_response', unknownRelayState: 'login_expired', missingResponse: 'invalid_request' }),
  )('refuses %s: %i %s, nobody provisioned', async (_what, status, code, post) => {
    expect(await refusal('mallory', post)).toEqual({ status, code });
    expect(await endUser('mallory')).toBeUndefined();
    expect(await endUser('out-mallory')).toBeUndefined();
  });

  it('refuses a Response answering another login (reused InResponseTo) with the RelayState of a second one', async () => {
    const first = await started();
    const second = await started();
    const res = await postToAcs(acsOf(issuer), { SAMLResponse: idp.response(responseTo(first.request, 'mallory')), RelayState: second.request.relayState });
    expect(res.status).toBe(401);
    expect(errorCodeOf(await res.text())).toBe('saml_in_response_to_invalid');
    expect(await endUser('mallory')).toBeUndefined();
  });

  it('refuses an oversized POST body with 413 (saml_response_too_large)', async () => {
    const { request } = await started();
    const res = await postToAcs(acsOf(issuer), { SAMLResponse: 'A'.repeat(300_000), RelayState: request.relayState });
    expect(res.status).toBe(413);
    expect(errorCodeOf(await res.text())).toBe('saml_response_too_large');
  });

  it('never lets the IdP take over a local end user of the same name', async () => {
    const { flow, toIdp } = await started();
    const acs = await postToAcs(acsOf(issuer), (await signInAtIdp(toIdp, 'bob')).form);
    const done = await flow.browser.get(locationOf(acs, issuer));
    expect(done.status).toBe(403);
    expect(errorCodeOf(await done.text())).toBe('account_refused');
    expect(await endUser('bob')).toMatchObject({ hasPassword: true, identitySource: null });
  });

  describe('Manager validation of saml sources', () => {
    const config = (extra: Record<string, unknown> = {}) => ({ idpEntityId: idp.entityId, ssoUrl: idp.ssoUrl, idpCertificates: [stranger.cert], ...extra });

    it('refuses a plain-http SSO URL to a remote host, a certificate that is not one, no certificate, and wanting nothing signed (400)', async () => {
      for (const [what, body, field] of [
        ['plain http to a remote host', config({ ssoUrl: 'http://idp.example.com/sso' }), 'config.ssoUrl'],
        ['not a certificate', config({ idpCertificates: ['hello'] }), 'config.idpCertificates.0'],
        ['no certificate', config({ idpCertificates: [] }), 'config.idpCertificates'],
        ['nothing signed', config({ wantAssertionsSigned: false, wantResponseSigned: false }), 'config.wantAssertionsSigned'],
        ['an unknown field', config({ acsUrl: 'https://x' }), 'config'],
      ] as const) {
        const refused = await createSource({ name: `bad-${randomBytes(3).toString('hex')}`, type: 'saml', projectId, config: body }).then(
          () => 'created',
          (err: Error) => err.message,
        );
        expect({ what, refused }).toEqual({ what, refused: expect.stringMatching(new RegExp(`-> 400 .*validation_failed.*"path":"${field.replace(/\./g, '\\.')}`)) });
      }
    });

    it('keeps saml sources out of password-checking policies (422 identity_source_not_usable)', async () => {
      await expect(
        cluster.admin.proxies.create(projectId, {
          name: `basic-${s}`,
          basePath: `/basic-${s}`,
          upstreamUrl: cluster.echoUrl,
          policies: [{ type: 'basic-auth', config: { identitySources: [SOURCE] } }],
        }),
      ).rejects.toThrow(/422.*identity_source_not_usable.*SAML IdP/);
    });

    it('tests the connection of a saml source (its certificates parse)', async () => {
      const ok = await cluster.admin.call('POST', `/api/v1/identity-sources/${sourceId}/test`, {});
      expect(ok).toMatchObject({ ok: true, step: 'connection', outcome: 'reachable' });
    });
  });
});
