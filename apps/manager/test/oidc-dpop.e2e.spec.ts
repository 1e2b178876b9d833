import { generateKeyPairSync, randomUUID } from 'node:crypto';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import { eventually } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { Browser, openLoginPage } from './support/test-browser';

/**
 * DPoP at the OpenID Provider's authorization requests (RFC 9449 §10, issue #15 §2): a DPoP proof
 * sent with a pushed request (openid-client's `getDPoPHandle`) or `dpop_jkt` at /authorize binds
 * the authorization code to a key; only a token request with a proof by that key redeems it, and
 * the tokens it gets are DPoP-bound (the access token's `cnf.jkt`, the refresh token of the
 * public client, /userinfo only as `Authorization: DPoP`). Hostile: another key (invalid_grant),
 * no proof (invalid_dpop_proof), a replayed proof (each refused with the code left unspent), a push
 * whose `dpop_jkt` is not its proof's key, a malformed `dpop_jkt`.
 */
describe('DPoP-bound authorization codes (dpop_jkt, DPoP at /credential/par) with openid-client', () => {
  const ENV = 'oidc-dpop';
  const SECRET = 'dpop-web-client-secret';
  const RP = 'https://rp.example/cb';
  const SPA = 'http://127.0.0.1:7778/cb';
  let cluster: Cluster;
  let admin: AdminClient;
  let issuer: string;
  let webId: string;
  let web: oidc.Configuration;
  let spa: oidc.Configuration;

  /** Logs alice in at an authorization URL; the redirect back to the client. */
  const loginAlice = async (authorizationUrl: string): Promise<URL> => {
    const done = await (await openLoginPage(new Browser(), authorizationUrl))('alice', 'alice-password-1');
    expect(done.status).toBe(303);
    return new URL(done.headers.get('location')!);
  };
  const flowOf = async (redirectUri: string, extra: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const params = {
      redirect_uri: redirectUri,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    };
    return { params, verifier, state };
  };
  const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, any>;
  const thumbprintOf = async (keys: CryptoKeyPair) => jose.calculateJwkThumbprint(await jose.exportJWK(keys.publicKey), 'sha256');
  /** A DPoP proof made by hand (for the hostile cases openid-client would not send). */
  const proofBy = async (keys: CryptoKeyPair, htu: string, jti = randomUUID()) =>
    new jose.SignJWT({ htm: 'POST', htu, jti })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await jose.exportJWK(keys.publicKey) })
      .setIssuedAt()
      .sign(keys.privateKey);
  const webBasic = () => `Basic ${Buffer.from(`${webId}:${SECRET}`).toString('base64')}`;
  const post = async (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  /** A code for the web client whose authorization request named `dpop_jkt` (a plain, unpushed /authorize). */
  const boundCode = async (keys: CryptoKeyPair) => {
    const flow = await flowOf(RP, { dpop_jkt: await thumbprintOf(keys) });
    const back = await loginAlice(oidc.buildAuthorizationUrl(web, flow.params).toString());
    const code = back.searchParams.get('code');
    expect(code).toBeTruthy();
    return { code: code!, verifier: flow.verifier, back, state: flow.state };
  };
  const redeem = (code: string, verifier: string, dpop?: string) =>
    post('/token', { grant_type: 'authorization_code', code, redirect_uri: RP, code_verifier: verifier }, { authorization: webBasic(), ...(dpop !== undefined && { dpop }) });

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}], managerEnv: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
    admin = cluster.admin;
    issuer = `${cluster.gateways[0].baseUrl}/credential`;
    const env = await admin.environments.named(ENV);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await admin.signingKeys.create(env.id, { algorithm: 'ES256', privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
    const projectId = (await admin.projects.create({ name: 'oidc-dpop' })).id;
    await admin.proxies.create(projectId, { name: 'orders', basePath: '/orders', upstreamUrl: cluster.echoUrl, environments: [ENV], policies: [{ type: 'jwt-auth', config: {} }] });
    await admin.endUsers.create(projectId, { username: 'alice', password: 'alice-password-1', email: 'alice@example.com' });
    webId = (await admin.credentials.create(projectId, { username: 'dpop-web', password: SECRET, issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, webId, { grants: ['authorization_code'], oidc: { redirectUris: [RP] } });
    const spaId = (await admin.credentials.create(projectId, { username: 'dpop-spa', issueApiKey: false })).id;
    await admin.credentials.putTokenSettings(projectId, spaId, {
      grants: ['authorization_code', 'refresh_token'],
      refreshAllowed: true,
      oidc: { clientType: 'public', tokenEndpointAuthMethod: 'none', redirectUris: [SPA] },
    });
    const insecure = { execute: [oidc.allowInsecureRequests] };
    web = await oidc.discovery(new URL(issuer), webId, undefined, oidc.ClientSecretBasic(SECRET), insecure);
    spa = await oidc.discovery(new URL(issuer), spaId, undefined, oidc.None(), insecure);
    // The Gateway serves the clients once the revision naming them is active.
    await eventually(
      async () => (await post('/par', { ...(await flowOf(RP)).params, response_type: 'code' }, { authorization: webBasic() })).status,
      (status) => status === 201,
      { what: 'the gateway knows the OIDC clients' },
    );
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('advertises DPoP in discovery', () => {
    expect(web.serverMetadata().dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA']));
  });

  it('binds a pushed request to the DPoP key of its proof: DPoP-bound access, refresh and /userinfo, nothing as bearer', async () => {
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const dpop = oidc.getDPoPHandle(spa, keys);
    const flow = await flowOf(SPA, { scope: 'openid profile offline_access' });
    const url = await oidc.buildAuthorizationUrlWithPAR(spa, flow.params, { DPoP: dpop });
    const back = await loginAlice(url.toString());
    // Without the key, the code is worth nothing: no proof, then another key's proof.
    const code = back.searchParams.get('code')!;
    const stolen = { grant_type: 'authorization_code', code, redirect_uri: SPA, code_verifier: flow.verifier, client_id: spa.clientMetadata().client_id };
    expect(await post('/token', stolen)).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
    const tokens = await oidc.authorizationCodeGrant(spa, back, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, idTokenExpected: true }, undefined, { DPoP: dpop });
    expect(tokens.token_type).toBe('dpop');
    expect(decode(tokens.access_token).cnf).toEqual({ jkt: await thumbprintOf(keys) });
    const sub = tokens.claims()!.sub;
    expect(await oidc.fetchUserInfo(spa, tokens.access_token, sub, { DPoP: dpop })).toMatchObject({ sub, preferred_username: 'alice' });
    const asBearer = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const noProof = await fetch(`${issuer}/userinfo`, { headers: { authorization: `DPoP ${tokens.access_token}` } });
    expect(noProof.status).toBe(401);
    expect(noProof.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
    // A proof for another access token (ath) or by another key does not do either.
    const other = await oidc.randomDPoPKeyPair('ES256');
    expect((await oidc.fetchUserInfo(spa, tokens.access_token, sub, { DPoP: oidc.getDPoPHandle(spa, other) }).catch((e: unknown) => e)) as Error).toBeInstanceOf(Error);
    // The public client's refresh token is bound too (RFC 9449 §5): refused without the key, left usable for its holder.
    const refreshToken = tokens.refresh_token!;
    expect(await post('/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: spa.clientMetadata().client_id })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    const refreshed = await oidc.refreshTokenGrant(spa, refreshToken, undefined, { DPoP: dpop });
    expect(refreshed.token_type).toBe('dpop');
    expect(decode(refreshed.access_token).cnf).toEqual({ jkt: await thumbprintOf(keys) });
  }, 120_000);

  it('binds a plain /authorize request by dpop_jkt: only a proof by that key redeems the code', async () => {
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const { back, verifier, state } = await boundCode(keys);
    const tokens = await oidc.authorizationCodeGrant(web, back, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: oidc.getDPoPHandle(web, keys) });
    expect(tokens.token_type).toBe('dpop');
    expect(decode(tokens.access_token).cnf.jkt).toBe(await thumbprintOf(keys));
    // Without dpop_jkt nor proof the same client still gets bearer tokens.
    const flow = await flowOf(RP);
    const plain = await loginAlice(oidc.buildAuthorizationUrl(web, flow.params).toString());
    const bearer = await oidc.authorizationCodeGrant(web, plain, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(bearer.token_type).toBe('bearer');
    expect(decode(bearer.access_token).cnf).toBeUndefined();
  }, 120_000);

  it('refuses a bound code with another key (invalid_grant) and without a proof (invalid_dpop_proof), leaving it to the holder', async () => {
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const other = await oidc.randomDPoPKeyPair('ES256');
    const { code, verifier } = await boundCode(keys);
    expect(await redeem(code, verifier, await proofBy(other, `${issuer}/token`))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await redeem(code, verifier)).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
    // Whoever lacks the key cannot use the code up: its holder still redeems it, once.
    expect(await redeem(code, verifier, await proofBy(keys, `${issuer}/token`))).toMatchObject({ status: 200, body: { token_type: 'DPoP' } });
    expect(await redeem(code, verifier, await proofBy(keys, `${issuer}/token`))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 120_000);

  it('refuses a replayed or malformed proof before the code is spent, then redeems it with a fresh proof', async () => {
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const { code, verifier } = await boundCode(keys);
    const used = await proofBy(keys, `${issuer}/token`);
    // The proof's jti is spent by a first request (here a refused client_credentials call of the same client).
    expect((await post('/token', { grant_type: 'client_credentials' }, { authorization: webBasic(), dpop: used })).status).toBe(400);
    expect(await redeem(code, verifier, used)).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof', error_description: expect.stringContaining('used before') } });
    expect(await redeem(code, verifier, await proofBy(keys, `${issuer}/par`))).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
    const redeemed = await redeem(code, verifier, await proofBy(keys, `${issuer}/token`));
    expect(redeemed).toMatchObject({ status: 200, body: { token_type: 'DPoP' } });
  }, 120_000);

  it('refuses a push whose dpop_jkt is not its proof key, and a malformed dpop_jkt (400)', async () => {
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const other = await oidc.randomDPoPKeyPair('ES256');
    const fields = { ...(await flowOf(RP)).params, response_type: 'code' };
    expect(await post('/par', { ...fields, dpop_jkt: await thumbprintOf(other) }, { authorization: webBasic(), dpop: await proofBy(keys, `${issuer}/par`) })).toMatchObject({
      status: 400,
      body: { error: 'invalid_dpop_proof' },
    });
    expect(await post('/par', { ...fields, dpop_jkt: 'not-a-thumbprint' }, { authorization: webBasic() })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await post('/par', fields, { authorization: webBasic(), dpop: 'not.a.proof' })).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
    // The same key both ways is accepted.
    expect(await post('/par', { ...fields, dpop_jkt: await thumbprintOf(keys) }, { authorization: webBasic(), dpop: await proofBy(keys, `${issuer}/par`) })).toMatchObject({
      status: 201,
    });
    // At /authorize a malformed dpop_jkt goes back to the (verified) redirect URI.
    const refused = await new Browser().get(oidc.buildAuthorizationUrl(web, (await flowOf(RP, { dpop_jkt: 'short' })).params).toString());
    expect(refused.status).toBe(303);
    expect(new URL(refused.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  }, 120_000);
});
