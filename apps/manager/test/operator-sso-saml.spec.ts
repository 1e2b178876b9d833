import { randomBytes } from 'node:crypto';
import { samlCertificatePem } from '@idm/identity-sources';
import { TestPki, type TestCertificate } from '@idm/test-kit';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { hostileSamlCases, responseTo, type HostileSamlCase } from './support/hostile-saml-responses';
import { TestSamlIdp, type AuthnRequest } from './support/saml-idp';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { Browser, locationOf } from './support/test-browser';

/**
 * Operator single sign-on through a SAML 2.0 IdP (issue #16): a System `saml` source with
 * operatorLogin is offered at GET /auth/sso next to the OIDC ones; its start sends an AuthnRequest
 * (HTTP-Redirect) to a real IdP (assertions signed by `saml`, npm) and binds the sign-in to the
 * browser by an HttpOnly cookie; the IdP's cross-site POST to the Manager's ACS is bound server side
 * (RelayState's one-use record in Redis, InResponseTo = our request id) and verified by
 * identity-sources' SamlIdpSource (node-saml); the browser's GET to /continue, which carries its
 * cookie, provisions the operator (groups -> role bindings) and hands the outcome to the console
 * exactly as an OIDC callback does. Every hostile Response ends as a problem with a reason code
 * collected by the console, nobody provisioned.
 */
describe('operator SSO through a SAML 2.0 IdP', () => {
  const s = randomBytes(3).toString('hex');
  const SOURCE = `corp-saml-${s}`;
  let database: TestDatabase;
  let m: InProcessManager;
  let base: string;
  let pki: TestPki;
  let idp: TestSamlIdp;
  let stranger: TestCertificate;
  let projectId: string;

  const users = async () => (await m.request('GET', '/api/v1/users')).body as Array<{ id: string; username: string }>;
  const operator = async (username: string) => (await users()).find((u) => u.username === username);
  const sso = (path: string) => `${base}/api/v1/auth/sso${path}`;
  const acsOf = (source: string) => sso(`/${source}/acs`);
  const collect = async (browser: Browser, headers?: Record<string, string>) => {
    const res = await browser.post(sso('/session'), headers);
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Record<string, any> };
  };
  /** Follows a redirect that must end on the console's sign-in screen, then collects there. */
  const landAndCollect = async (browser: Browser, res: Response) => {
    expect(res.status).toBe(302);
    expect(locationOf(res, base)).toBe(`${base}/ui/sign-in?sso=complete`);
    return collect(browser);
  };
  /** Start at the Manager: the IdP's SSO URL with our AuthnRequest. */
  const start = async (browser = new Browser(), source = SOURCE) => {
    const res = await browser.get(sso(`/${source}/start`));
    expect(res.status).toBe(302);
    const toIdp = locationOf(res, base);
    return { browser, res, toIdp, request: TestSamlIdp.authnRequestOf(toIdp) };
  };
  /** The IdP signs `login` in and answers its auto-posting form: where it posts, and what. */
  const signInAtIdp = async (toIdp: string, login: string) => {
    const html = await (await fetch(`${toIdp}&login=${encodeURIComponent(login)}`)).text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!;
    return { action: /action="([^"]+)"/.exec(html)![1]!, form: { SAMLResponse: field('SAMLResponse'), RelayState: field('RelayState') } };
  };
  /**
   * The IdP's auto-posting form, sent cross-site: none of the signing-in browser's cookies go with
   * it (a fresh Browser posts), and a refusal's handoff lands in that poster's jar.
   */
  const postToAcs = async (form: Record<string, string>, source = SOURCE) => {
    const poster = new Browser();
    return { poster, res: await poster.postForm(acsOf(source), form) };
  };
  /** A hostile or broken Response for a fresh sign-in: the refusal the console would show. */
  const refusal = async (post: (request: AuthnRequest) => Record<string, string>) => {
    const { request } = await start();
    const { poster, res } = await postToAcs(post(request));
    return landAndCollect(poster, res);
  };
  /** Through the real IdP as `login`, the ACS passed: the browser and its /continue URL. */
  const throughIdp = async (login: string) => {
    const { browser, toIdp } = await start();
    const { action, form } = await signInAtIdp(toIdp, login);
    expect(action).toBe(acsOf(SOURCE));
    const { res } = await postToAcs(form);
    expect(res.status).toBe(302);
    const next = locationOf(res, base);
    expect(next.startsWith(`${sso(`/${SOURCE}/continue`)}?handle=`)).toBe(true);
    return { browser, next, form };
  };

  beforeAll(async () => {
    pki = await TestPki.create();
    const signer = await pki.issue('idp', { subject: '/CN=test-idp', rsa: true });
    stranger = await pki.issue('stranger', { subject: '/CN=test-idp', rsa: true });
    idp = await TestSamlIdp.start(signer);
    database = await createTestDatabase('postgres');
    m = await startInProcessManager(database);
    await m.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(m.app.getHttpServer().address() as { port: number }).port}`;
    projectId = (await m.request('POST', '/api/v1/projects', { name: `opsaml-${s}` })).body.id;
    const operatorLogin = {
      enabled: true,
      groupBindings: [
        { group: 'staff', role: 'project-editor', scope: `project:${projectId}` },
        { group: 'staff', role: 'project-viewer', scope: 'system' },
      ],
    };
    const samlSource = async (name: string, extra: Record<string, unknown> = {}) => {
      const res = await m.request('POST', '/api/v1/identity-sources', {
        name,
        type: 'saml',
        config: { idpEntityId: idp.entityId, ssoUrl: idp.ssoUrl, idpCertificates: [signer.cert], requiredAttributes: { verified: ['yes'] } },
        roleMappings: {},
        operatorLogin,
        ...extra,
      });
      expect(res.status).toBe(201);
    };
    await samlSource(SOURCE, { description: 'Corporate SAML' });
    await samlSource(`disabled-${s}`, { enabled: false });
    await samlSource(`nologin-${s}`, { operatorLogin: null });
    // For end users this source would accept a signed Response around an unsigned Assertion; for operators it may not.
    await samlSource(`response-signed-${s}`, {
      config: { idpEntityId: idp.entityId, ssoUrl: idp.ssoUrl, idpCertificates: [signer.cert], wantAssertionsSigned: false, wantResponseSigned: true },
    });
  }, 300_000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
    await idp?.stop();
    await pki?.remove();
  });

  it('lists the saml source for the sign-in screen (type saml, names only), not the disabled or non-operator ones', async () => {
    const listed = (await (await fetch(sso(''))).json()) as Array<Record<string, unknown>>;
    expect(listed.find((x) => x.name === SOURCE)).toEqual({ id: expect.any(String), name: SOURCE, type: 'saml', displayName: 'Corporate SAML' });
    expect(listed.map((x) => x.name)).not.toContain(`disabled-${s}`);
    expect(listed.map((x) => x.name)).not.toContain(`nologin-${s}`);
    expect(JSON.stringify(listed)).not.toContain(idp.ssoUrl);
  });

  it('serves the operator SP metadata (entityID, ACS with HTTP-POST, signed assertions wanted); unknown or non-SAML sources are a 404 problem', async () => {
    const res = await fetch(sso(`/${SOURCE}/metadata`));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/samlmetadata+xml');
    const xml = await res.text();
    expect(xml).toContain(`entityID="${sso(`/${SOURCE}/metadata`)}"`);
    expect(xml).toContain(`Location="${acsOf(SOURCE)}"`);
    expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(xml).toContain('WantAssertionsSigned="true"');
    const unknown = await fetch(sso('/no-such-source/metadata'));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'sso_source_unknown' });
    expect((await (await fetch(sso(`/nologin-${s}/metadata`))).json()).code).toBe('sso_operator_login_disabled');
  });

  it('starts with an AuthnRequest (HTTP-Redirect) naming our ACS and entityID, bound to an HttpOnly SameSite=Lax cookie', async () => {
    const { res, toIdp, request } = await start();
    expect(toIdp.startsWith(`${idp.ssoUrl}?`)).toBe(true);
    expect(request).toMatchObject({ acsUrl: acsOf(SOURCE), issuer: sso(`/${SOURCE}/metadata`) });
    expect(request.id).toMatch(/^_[0-9a-f]{40}$/);
    expect(request.relayState.length).toBeGreaterThanOrEqual(43);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('idm_sso_pending='))!;
    expect(cookie).toMatch(/; Path=\/api\/v1\/auth\/sso; Max-Age=600; HttpOnly; SameSite=Lax$/);
  });

  it('signs an operator in: provisioned as <source>:<user> with the bindings its groups map to, a session collected once, audited; a replayed Response signs no one in', async () => {
    expect(await operator(`${SOURCE}:alice`)).toBeUndefined();
    const { browser, next, form } = await throughIdp('alice');
    expect(await operator(`${SOURCE}:alice`)).toBeUndefined(); // nothing provisioned before the browser is back
    const done = await browser.get(next);
    expect(done.headers.getSetCookie().find((c) => c.startsWith('idm_sso_handoff='))).toMatch(/; Path=\/api\/v1\/auth\/sso; Max-Age=60; HttpOnly; SameSite=Strict$/);
    const session = await landAndCollect(browser, done);
    expect(session).toMatchObject({ status: 200, body: { tokenType: 'Bearer', username: `${SOURCE}:alice`, token: expect.stringMatching(/^idms_/) } });

    const alice = (await operator(`${SOURCE}:alice`))!;
    const permissions = await m.request('GET', `/api/v1/me/permissions?projectId=${projectId}`, undefined, { token: session.body.token });
    expect(permissions.body.permissions).toContain('proxy:write'); // project-editor on the project
    const systemWide = await m.request('GET', '/api/v1/me/permissions', undefined, { token: session.body.token });
    expect(systemWide.body.permissions).not.toContain('proxy:write'); // project-viewer only, system-wide
    const audit = (await m.request('GET', `/api/v1/audit?entityId=${alice.id}`)).body.items as Array<Record<string, any>>;
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['user.create', 'session.create']));
    expect(JSON.stringify(audit)).toContain(`sso:${SOURCE}`);

    // The same Response again: its RelayState's record is spent (the replay cache is that one-use record in Redis).
    const { poster, res } = await postToAcs(form);
    expect(await landAndCollect(poster, res)).toMatchObject({ status: 400, type: expect.stringContaining('application/problem+json'), body: { code: 'sso_state_invalid' } });
    // The continuation and the handoff are single-use too.
    expect(await landAndCollect(browser, await browser.get(next))).toMatchObject({ status: 400, body: { code: 'sso_state_invalid' } });
    expect(await collect(browser)).toMatchObject({ status: 401, body: { code: 'sso_handoff_invalid' } });

    // A second sign-in is the same operator.
    const again = await throughIdp('alice');
    expect((await landAndCollect(again.browser, await again.browser.get(again.next))).status).toBe(200);
    expect((await users()).filter((u) => u.username === `${SOURCE}:alice`)).toHaveLength(1);
  });

  it('never signs anyone in as the local bootstrap admin: an IdP account of that name is its own federated operator', async () => {
    const { browser, next } = await throughIdp(ADMIN.username);
    const session = await landAndCollect(browser, await browser.get(next));
    expect(session.body.username).toBe(`${SOURCE}:${ADMIN.username}`);
    expect((await m.request('GET', '/api/v1/users', undefined, { token: session.body.token })).status).toBe(403);
  });

  it('refuses a verified Response continued by a browser without the sign-in’s cookie (sso_state_mismatch), nobody provisioned', async () => {
    const { next } = await throughIdp('carol');
    const elsewhere = new Browser();
    expect(await landAndCollect(elsewhere, await elsewhere.get(next))).toMatchObject({ status: 403, body: { code: 'sso_state_mismatch' } });
    expect(await operator(`${SOURCE}:carol`)).toBeUndefined();
  });

  it.each<HostileSamlCase>([
    ...hostileSamlCases(() => ({ idp, stranger }), { unsolicited: 'saml_unsolicited', unknownRelayState: 'sso_state_invalid', missingResponse: 'saml_response_missing' }),
    ['not XML at all', 400, 'saml_response_invalid', (r) => ({ SAMLResponse: Buffer.from('hello').toString('base64'), RelayState: r.relayState })],
    [
      'an account whose groups are bound to no Manager role',
      403,
      'operator_no_role_binding',
      (r) => ({ SAMLResponse: idp.response(responseTo(r, 'mallory', { attributes: { groups: ['contractors'], verified: 'yes' } })), RelayState: r.relayState }),
    ],
  ])('refuses %s: %i %s, nobody provisioned', async (_what, status, code, post) => {
    let refused;
    if (code === 'operator_no_role_binding') {
      // Verified at the ACS; refused when the browser comes back and the operator would be provisioned.
      const { browser, request } = await start();
      const { res } = await postToAcs(post(request));
      refused = await landAndCollect(browser, await browser.get(locationOf(res, base)));
    } else refused = await refusal(post);
    expect(refused).toMatchObject({ status, type: expect.stringContaining('application/problem+json'), body: { code, detail: expect.any(String) } });
    expect(await operator(`${SOURCE}:mallory`)).toBeUndefined();
    expect(await operator(`${SOURCE}:out-mallory`)).toBeUndefined();
  });

  it('refuses an unsigned Assertion inside a Response the IdP signed, even from a source that only asks for a signed Response (operators need a signed Assertion)', async () => {
    const source = `response-signed-${s}`;
    const unsignedInside = async (login: string) => {
      const { browser, request } = await start(new Browser(), source);
      const bare = idp.assertion(responseTo(request, login)).replace(/<Signature[\s\S]*<\/Signature>/, '');
      const { poster, res } = await postToAcs({ SAMLResponse: idp.signedResponse(responseTo(request, login), bare), RelayState: request.relayState }, source);
      return { browser, poster, res };
    };
    const { poster, res } = await unsignedInside('mallory');
    expect(await landAndCollect(poster, res)).toMatchObject({ status: 401, body: { code: 'saml_signature_invalid' } });
    expect(await operator(`${source}:mallory`)).toBeUndefined();
    // The same source with a signed Assertion in the signed Response: the Response signature is sound, only the Assertion's was missing.
    const { browser, request } = await start(new Browser(), source);
    const both = await postToAcs(
      { SAMLResponse: idp.signedResponse(responseTo(request, 'erin'), idp.assertion(responseTo(request, 'erin'))), RelayState: request.relayState },
      source,
    );
    expect(await landAndCollect(browser, await browser.get(locationOf(both.res, base)))).toMatchObject({ status: 200, body: { username: `${source}:erin` } });
  });

  it('refuses a Response answering another sign-in (its InResponseTo) posted with the RelayState of a second one', async () => {
    const first = await start();
    const second = await start();
    const { poster, res } = await postToAcs({ SAMLResponse: idp.response(responseTo(first.request, 'mallory')), RelayState: second.request.relayState });
    expect(await landAndCollect(poster, res)).toMatchObject({ status: 401, body: { code: 'saml_in_response_to_invalid' } });
    expect(await operator(`${SOURCE}:mallory`)).toBeUndefined();
  });

  it('refuses a Response for one source posted to another source’s ACS (sso_state_invalid)', async () => {
    const { request } = await start();
    const { poster, res } = await postToAcs({ SAMLResponse: idp.response(responseTo(request, 'mallory')), RelayState: request.relayState }, `nologin-${s}`);
    expect(await landAndCollect(poster, res)).toMatchObject({ status: 400, body: { code: 'sso_state_invalid' } });
  });

  it.each([
    ['no-such-source', 404, 'sso_source_unknown'],
    ['disabled', 403, 'sso_source_disabled'],
    ['nologin', 403, 'sso_operator_login_disabled'],
  ])('refuses to start with %s: %i %s, shown on the sign-in screen', async (which, status, code) => {
    const name = which === 'no-such-source' ? which : `${which}-${s}`;
    const browser = new Browser();
    expect(await landAndCollect(browser, await browser.get(sso(`/${name}/start`)))).toMatchObject({ status, body: { code } });
  });

  it('reads a form body at the ACS only: a form posted to any other route is 415, a JSON body at the ACS carries no Response', async () => {
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(ADMIN).toString(),
    });
    expect(login.status).toBe(415);
    expect(await login.json()).toMatchObject({ code: 'unsupported_media_type' });
    /** Posted without a browser: the refusal the handoff cookie of the ACS's answer holds. */
    const postRaw = async (contentType: string, body: string) => {
      const res = await fetch(acsOf(SOURCE), { method: 'POST', redirect: 'manual', headers: { 'content-type': contentType }, body });
      expect(res.status).toBe(302);
      const handoff = res.headers
        .getSetCookie()
        .find((c) => c.startsWith('idm_sso_handoff='))!
        .split(';')[0]!;
      const collected = await fetch(sso('/session'), { method: 'POST', headers: { cookie: handoff, 'sec-fetch-site': 'same-origin' } });
      return { status: collected.status, body: (await collected.json()) as Record<string, unknown> };
    };
    expect(await postRaw('application/json', '{"SAMLResponse":"x","RelayState":"y"}')).toMatchObject({ status: 400, body: { code: 'saml_response_missing' } });
    expect(await postRaw('application/x-www-form-urlencoded', 'SAMLResponse=a&SAMLResponse=b&RelayState=c')).toMatchObject({
      status: 400,
      body: { code: 'saml_response_missing' },
    });
  });

  describe('encrypted Assertions (the SP key sealed as the source’s secret)', () => {
    const ENC = `encrypted-${s}`;
    /** The SP key pair of ENC: its private key is the secret, its certificate config.spCertificate. */
    let sp: TestCertificate;
    const encConfig = (extra: Record<string, unknown> = {}) => ({
      idpEntityId: idp.entityId,
      ssoUrl: idp.ssoUrl,
      idpCertificates: [idp.certificate],
      spCertificate: sp.cert,
      requireEncryptedAssertions: true,
      ...extra,
    });
    const operatorLogin = () => ({ enabled: true, groupBindings: [{ group: 'staff', role: 'project-viewer', scope: `project:${projectId}` }] });

    beforeAll(async () => {
      sp = await pki.issue('sp', { subject: '/CN=idm-operator-sp', rsa: true });
      const res = await m.request('POST', '/api/v1/identity-sources', { name: ENC, type: 'saml', config: encConfig(), secret: sp.key, operatorLogin: operatorLogin() });
      expect(res.status).toBe(201);
      expect(JSON.stringify(res.body)).not.toContain(sp.key.split('\n')[1]!);
    });

    /** A Response for a fresh sign-in at ENC: the refusal the console would show. */
    const refusedAtEnc = async (post: (request: AuthnRequest) => Promise<string>) => {
      const { request } = await start(new Browser(), ENC);
      const { poster, res } = await postToAcs({ SAMLResponse: await post(request), RelayState: request.relayState }, ENC);
      return landAndCollect(poster, res);
    };

    it('publishes the SP certificate for encryption in the metadata; the IdP encrypts to it and the operator signs in', async () => {
      const xml = await (await fetch(sso(`/${ENC}/metadata`))).text();
      const published = /<KeyDescriptor use="encryption">[\s\S]*?<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(xml)?.[1];
      expect(published).toBeDefined();
      expect(published!.replace(/\s+/g, '')).toBe(sp.cert.replace(/-----[^-]+-----|\s+/g, ''));
      expect(xml).toContain('<KeyDescriptor use="signing">');
      // The IdP's administrator imports our metadata: from now on it encrypts to the certificate published there.
      idp.encryptFor.set(sso(`/${ENC}/metadata`), samlCertificatePem(published!));
      const { browser, toIdp } = await start(new Browser(), ENC);
      const { form } = await signInAtIdp(toIdp, 'erin');
      const sent = Buffer.from(form.SAMLResponse, 'base64').toString('utf8');
      expect(sent).toContain('EncryptedAssertion');
      expect(sent).not.toMatch(/<saml:Assertion[\s>]/);
      expect(sent).not.toContain('erin');
      const { res } = await postToAcs(form, ENC);
      expect(res.status).toBe(302);
      const session = await landAndCollect(browser, await browser.get(locationOf(res, base)));
      expect(session).toMatchObject({ status: 200, body: { username: `${ENC}:erin` } });
    });

    it.each<[string, number, string, (request: AuthnRequest) => Promise<string>]>([
      ['a plain (signed) Assertion where encryption is required', 401, 'saml_encryption_required', async (r) => idp.response(responseTo(r, 'mallory'))],
      [
        'an Assertion encrypted to another key',
        401,
        'saml_decryption_failed',
        async (r) => idp.response(responseTo(r, 'mallory'), await idp.encryptedAssertion(responseTo(r, 'mallory'), { cert: stranger.cert })),
      ],
      [
        'an encrypted but unsigned Assertion (anyone can encrypt to the published certificate)',
        401,
        'saml_signature_invalid',
        async (r) => idp.response(responseTo(r, 'mallory'), await idp.encryptedAssertion(responseTo(r, 'mallory'), { cert: sp.cert, signed: false })),
      ],
      [
        'an encrypted Assertion signed by another key',
        401,
        'saml_signature_invalid',
        async (r) => idp.response(responseTo(r, 'mallory'), await idp.encryptedAssertion(responseTo(r, 'mallory', { signer: stranger }), { cert: sp.cert })),
      ],
      [
        'an Assertion whose key is encrypted with RSA PKCS#1 v1.5 (Bleichenbacher-prone, refused)',
        401,
        'saml_decryption_failed',
        async (r) =>
          idp.response(
            responseTo(r, 'mallory'),
            await idp.encryptedAssertion(responseTo(r, 'mallory'), { cert: sp.cert, keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-1_5' }),
          ),
      ],
      [
        'signature wrapping: an encrypted unsigned Assertion for mallory next to the encrypted signed one for alice',
        401,
        'saml_signature_invalid',
        async (r) =>
          idp.response(
            responseTo(r, 'mallory'),
            (await idp.encryptedAssertion(responseTo(r, 'mallory'), { cert: sp.cert, signed: false })) + (await idp.encryptedAssertion(responseTo(r, 'alice'), { cert: sp.cert })),
          ),
      ],
      [
        'an encrypted Assertion for another Audience',
        401,
        'saml_audience_mismatch',
        async (r) => idp.response(responseTo(r, 'mallory'), await idp.encryptedAssertion(responseTo(r, 'mallory', { audience: 'https://other-sp.example' }), { cert: sp.cert })),
      ],
      [
        'a DTD with an external entity hidden inside the encryption (XXE)',
        400,
        'saml_xml_refused',
        async (r) => {
          const signed = idp.assertion(responseTo(r, 'mallory'));
          const evil = `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>${signed}`;
          return idp.response(responseTo(r, 'mallory'), await idp.encryptRaw(evil, sp.cert));
        },
      ],
    ])('refuses %s: %i %s, nobody provisioned', async (_what, status, code, post) => {
      expect(await refusedAtEnc(post)).toMatchObject({ status, type: expect.stringContaining('application/problem+json'), body: { code } });
      expect(await operator(`${ENC}:mallory`)).toBeUndefined();
    });

    it('refuses an encrypted Assertion at a source without an SP key (saml_decryption_failed)', async () => {
      const { request } = await start();
      const encrypted = idp.response(responseTo(request, 'mallory'), await idp.encryptedAssertion(responseTo(request, 'mallory'), { cert: sp.cert }));
      const { poster, res } = await postToAcs({ SAMLResponse: encrypted, RelayState: request.relayState });
      expect(await landAndCollect(poster, res)).toMatchObject({ status: 401, body: { code: 'saml_decryption_failed' } });
      expect(await operator(`${SOURCE}:mallory`)).toBeUndefined();
    });

    it('refuses on save an SP key that cannot work: encryption required without the key or certificate, a certificate of another key, a secret that is no key; removing the key while required', async () => {
      const create = (name: string, body: Record<string, unknown>) => m.request('POST', '/api/v1/identity-sources', { name, type: 'saml', operatorLogin: null, ...body });
      for (const [what, body, status, code, path] of [
        ['no certificate', { config: encConfig({ spCertificate: undefined }), secret: sp.key }, 400, 'validation_failed', 'config.spCertificate'],
        ['no key', { config: encConfig() }, 422, 'saml_sp_key_invalid', 'secret'],
        ['the certificate of another key', { config: encConfig({ spCertificate: stranger.cert }), secret: sp.key }, 422, 'saml_sp_key_invalid', 'config.spCertificate'],
        ['a secret that is no private key', { config: encConfig(), secret: 'hunter2' }, 422, 'saml_sp_key_invalid', 'secret'],
      ] as const) {
        const res = await create(`bad-${randomBytes(3).toString('hex')}`, body);
        expect({ what, status: res.status, code: res.body.code, paths: (res.body.errors ?? []).map((e: { path: string }) => e.path) }).toEqual({
          what,
          status,
          code,
          paths: expect.arrayContaining([path]),
        });
        expect(JSON.stringify(res.body)).not.toContain('hunter2');
      }
      const id = ((await m.request('GET', '/api/v1/identity-sources')).body as Array<{ id: string; name: string }>).find((x) => x.name === ENC)!.id;
      const removed = await m.request('PATCH', `/api/v1/identity-sources/${id}`, { secret: null });
      expect({ status: removed.status, code: removed.body.code }).toEqual({ status: 422, code: 'saml_sp_key_invalid' });
      expect((await m.request('GET', `/api/v1/identity-sources/${id}`)).body).toMatchObject({ hasSecret: true, config: { requireEncryptedAssertions: true } });
    });
  });

  describe('IdP metadata import (POST /identity-sources/{id}/saml-metadata)', () => {
    const IMPORTED = `imported-${s}`;
    let id: string;
    const body = (cert: string) => cert.replace(/-----[^-]+-----|\s+/g, '');
    /** The IdP's metadata as ADFS, Shibboleth or Keycloak publish it: an EntityDescriptor with an IdPSSODescriptor. */
    const metadataOf = (o: { entityId?: string; sso?: string; keys?: string; binding?: string; descriptor?: string } = {}) =>
      `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${o.entityId ?? idp.entityId}">
  <md:${o.descriptor ?? 'IdPSSODescriptor'} protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false">
    ${o.keys ?? `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n${body(idp.certificate)}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`}
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body(stranger.cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${idp.ssoUrl}/post"/>
    <md:SingleSignOnService Binding="${o.binding ?? 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect'}" Location="${o.sso ?? idp.ssoUrl}"/>
  </md:${o.descriptor ?? 'IdPSSODescriptor'}>
</md:EntityDescriptor>`;
    const importInto = (sourceId: string, metadataXml: string) => m.request('POST', `/api/v1/identity-sources/${sourceId}/saml-metadata`, { metadataXml });

    beforeAll(async () => {
      // Created before the IdP is known (placeholders: another entity, another key): the import sets them.
      const res = await m.request('POST', '/api/v1/identity-sources', {
        name: IMPORTED,
        type: 'saml',
        config: { idpEntityId: 'urn:placeholder', ssoUrl: 'https://idp.invalid/sso', idpCertificates: [stranger.cert], requiredAttributes: { verified: ['yes'] } },
        operatorLogin: { enabled: true, groupBindings: [{ group: 'staff', role: 'project-viewer', scope: `project:${projectId}` }] },
      });
      expect(res.status).toBe(201);
      id = res.body.id;
    });

    it('takes the IdP’s entityID, HTTP-Redirect SSO URL and signing certificate (not the encryption one), keeps the rest, audits it; the operator then signs in through that IdP', async () => {
      const res = await importInto(id, metadataOf());
      expect(res.status).toBe(200);
      expect(res.body.config).toMatchObject({ idpEntityId: idp.entityId, ssoUrl: idp.ssoUrl, idpCertificates: [body(idp.certificate)], requiredAttributes: { verified: ['yes'] } });
      const audit = (await m.request('GET', `/api/v1/audit?entityId=${id}`)).body.items as Array<Record<string, any>>;
      expect(audit.map((a) => a.action)).toContain('identity_source.update');
      const { browser, toIdp } = await start(new Browser(), IMPORTED);
      expect(toIdp.startsWith(`${idp.ssoUrl}?`)).toBe(true);
      const { form } = await signInAtIdp(toIdp, 'frank');
      const { res: acs } = await postToAcs(form, IMPORTED);
      expect(await landAndCollect(browser, await browser.get(locationOf(acs, base)))).toMatchObject({ status: 200, body: { username: `${IMPORTED}:frank` } });
    });

    it.each<[string, number, string, () => string]>([
      [
        'a DTD with an external entity (XXE)',
        400,
        'saml_metadata_refused',
        () => metadataOf().replace('<md:EntityDescriptor', '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><md:EntityDescriptor'),
      ],
      [
        'entity expansion (billion laughs)',
        400,
        'saml_metadata_refused',
        () => `<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>${metadataOf().replace(/^<\?xml[^>]*>/, '')}`,
      ],
      ['huge metadata', 400, 'validation_failed', () => metadataOf().replace('<md:NameIDFormat>', `<!--${'x'.repeat(600_000)}--><md:NameIDFormat>`)],
      ['not well-formed XML', 400, 'saml_metadata_invalid', () => metadataOf().replace('</md:EntityDescriptor>', '')],
      ['not XML at all', 400, 'saml_metadata_invalid', () => 'hello'],
      ['an SP’s metadata (no IdPSSODescriptor)', 400, 'saml_metadata_invalid', () => metadataOf({ descriptor: 'SPSSODescriptor' })],
      ['no signing certificate (only an encryption key)', 400, 'saml_metadata_invalid', () => metadataOf({ keys: '' })],
      [
        'a signing certificate that is not one',
        400,
        'saml_metadata_invalid',
        () =>
          metadataOf({
            keys: '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>aGVsbG8=</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>',
          }),
      ],
      ['no HTTP-Redirect SingleSignOnService', 400, 'saml_metadata_invalid', () => metadataOf({ binding: 'urn:oasis:names:tc:SAML:2.0:bindings:SOAP' })],
      ['an SSO URL in plain http to a remote host', 400, 'validation_failed', () => metadataOf({ sso: 'http://idp.example.com/sso' })],
    ])('refuses %s: %i %s, and the source is unchanged', async (_what, status, code, xml) => {
      const before = (await m.request('GET', `/api/v1/identity-sources/${id}`)).body;
      const res = await importInto(id, xml());
      expect({ status: res.status, code: res.body.code, type: res.headers['content-type'] }).toEqual({ status, code, type: expect.stringContaining('application/problem+json') });
      expect(JSON.stringify(res.body)).not.toContain('root:');
      expect((await m.request('GET', `/api/v1/identity-sources/${id}`)).body).toEqual(before);
    });

    it('refuses metadata for a source of another type (422 identity_source_not_saml)', async () => {
      const oidc = await m.request('POST', '/api/v1/identity-sources', { name: `oidc-${s}`, type: 'oidc', config: { issuer: 'https://idp.example.com', clientId: 'idm' } });
      expect(oidc.status).toBe(201);
      const res = await importInto(oidc.body.id, metadataOf());
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 422, code: 'identity_source_not_saml' });
    });
  });
});
