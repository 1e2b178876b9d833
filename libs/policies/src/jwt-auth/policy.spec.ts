import { createHmac, createPublicKey } from 'node:crypto';
import type { ConfigSnapshot } from '@idm/config-bus';
import { signJwt, SigningKeyRing, type JwtClaims } from '@idm/tokens';
import { box, configSnapshot, privateKeyFor, snapshotCredential, snapshotKey, snapshotProxy } from '@idm/test-kit';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import type { OwnIssuers } from '../compile-dependencies';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const S = NOW / 1000;
const key = snapshotKey('RS256');
const otherKey = snapshotKey('RS256', { variant: 1 });
const { ring } = SigningKeyRing.fromSnapshot([key], box);
const signer = ring.signer(NOW)!;
const { ring: otherRing } = SigningKeyRing.fromSnapshot([otherKey], box);
const ISS = 'https://gw.example/credential';
/** The environment's issuers as a Gateway with GATEWAY_PUBLIC_URL=https://gw.example has them. */
const FIXED: OwnIssuers = { fixed: [ISS, 'https://gw.example/auth'], isRequestIssuer: () => false };

function snapshot(config: Record<string, unknown>, enabled = true): ConfigSnapshot {
  const cred = (id: string, projectId: string, extra = {}) => snapshotCredential({ id, projectId, username: `user-${id}`, roles: ['reader'], ...extra });
  return configSnapshot({
    generatedAt: new Date(NOW).toISOString(),
    proxies: [
      snapshotProxy({ id: 'p1', name: 'orders', basePath: '/orders', upstreamUrl: 'http://127.0.0.1:1', methods: ['GET', 'POST'], policies: [{ type: 'jwt-auth', config }] }),
    ],
    credentials: [cred('c1', 'proj-a', { enabled }), cred('c2', 'proj-b')],
    signingKeys: [key],
  });
}

const claims = (over: JwtClaims = {}): JwtClaims => ({
  iss: ISS,
  sub: 'c1',
  aud: ['/orders'],
  iat: S,
  nbf: S,
  exp: S + 60,
  jti: 'j',
  scope: 'read',
  roles: ['reader'],
  email: 'a@x',
  ...over,
});

function run(
  token: string | undefined,
  { config = {}, method = 'GET', enabled = true, issuers = FIXED as OwnIssuers | null, revokedJwts = null as Set<string> | null, host = 'gw.example' } = {},
) {
  const proxy = compileEnvironment(snapshot(config, enabled), { now: () => NOW, keyRing: ring, issuers, revokedJwts }).route('/orders')!;
  return { ...call(proxy, token, method, host) };
}

function call(proxy: ReturnType<ReturnType<typeof compileEnvironment>['route']> & object, token: string | undefined, method = 'GET', host = 'gw.example') {
  const headers = token === undefined ? { host } : { host, authorization: `Bearer ${token}` };
  const ctx = createRequestContext({ method, path: '/orders', headers, query: '', clientIp: '127.0.0.1' });
  return { outcome: proxy.runPolicies(ctx), ctx };
}

const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('jwt-auth policy', () => {
  it('accepts a token of the environment key, sets identity, roles and mapped claims, strips Authorization', () => {
    const { outcome, ctx } = run(signJwt(claims(), signer), { config: { claimHeaders: { email: 'X-User-Email', scope: 'x-scope' } } });
    expect(outcome).toBeUndefined();
    expect(ctx.identity).toEqual({ credentialId: 'c1', username: 'user-c1', projectId: 'proj-a' });
    expect(ctx.upstreamHeaders).toEqual({ 'x-authenticated-userroles': 'reader', 'x-user-email': 'a@x', 'x-scope': 'read' });
    expect(ctx.strippedHeaders).toEqual(['authorization']);
  });

  it('asks for a token with a bare Bearer challenge', () => {
    expect(run(undefined).outcome).toMatchObject({ status: 401, code: 'missing_token', headers: { 'www-authenticate': 'Bearer realm="/orders"' } });
  });

  const good = signJwt(claims(), signer);
  const [h, p, sig] = good.split('.');
  const publicPem = createPublicKey(privateKeyFor('RS256')).export({ type: 'spki', format: 'pem' }).toString();
  it.each([
    ['a tampered payload', `${h}.${segment({ ...claims(), sub: 'c2' })}.${sig}`],
    ['a token signed by another key with the same kid', signJwt(claims(), { ...otherRing.signer(NOW)!, kid: signer.kid })],
    ['alg none', `${segment({ alg: 'none', kid: signer.kid })}.${p}.`],
    [
      'HS256 keyed with the public key',
      (() => {
        const head = segment({ alg: 'HS256', kid: signer.kid });
        return `${head}.${p}.${createHmac('sha256', publicPem).update(`${head}.${p}`).digest('base64url')}`;
      })(),
    ],
    ['an unknown kid', signJwt(claims(), otherRing.signer(NOW)!)],
    ['an expired token', signJwt(claims({ exp: S - 31 }), signer)],
    ['a token not valid yet', signJwt(claims({ nbf: S + 120 }), signer)],
    ['a token for another audience', signJwt(claims({ aud: '/payments' }), signer)],
    ['a token of a foreign issuer', signJwt(claims({ iss: 'https://evil.example/token' }), signer)],
    ["a token naming another host's token service (forged X-Forwarded-Host at minting)", signJwt(claims({ iss: 'https://evil.example/credential' }), signer)],
    ['a plain JWT (typ JWT) signed by the environment key', signJwt(claims(), signer, { typ: 'JWT' })],
    ['an ID token signed by the environment key', signJwt(claims({ nonce: 'n' }), signer, { typ: 'id_token+jwt' })],
    ['a token of a credential of another project', signJwt(claims({ sub: 'c2' }), signer)],
    ['a token of a deleted credential', signJwt(claims({ sub: 'gone' }), signer)],
    ['garbage', 'not.a.jwt'],
  ])('refuses %s with invalid_token', (_, token) => {
    const { outcome, ctx } = run(token);
    expect(outcome).toMatchObject({ status: 401, code: 'invalid_token', headers: { 'www-authenticate': 'Bearer realm="/orders", error="invalid_token"' } });
    expect(ctx.identity).toBeNull();
  });

  it('refuses a token once its credential is disabled', () => {
    expect(run(good, { enabled: false }).outcome).toMatchObject({ status: 401, code: 'invalid_token' });
  });

  it('tolerates the configured clock skew', () => {
    expect(run(signJwt(claims({ exp: S - 10 }), signer)).outcome).toBeUndefined();
    expect(run(signJwt(claims({ exp: S - 10 }), signer), { config: { clockSkewSeconds: 5 } }).outcome).toMatchObject({ code: 'invalid_token' });
  });

  it('enforces scopes and roles per method with 403 insufficient_scope', () => {
    const config = { required: { roles: ['reader'] }, methods: { post: { scopes: ['write'] } } };
    expect(run(good, { config }).outcome).toBeUndefined();
    expect(run(good, { config, method: 'POST' }).outcome).toMatchObject({ status: 403, code: 'insufficient_scope' });
    expect(run(signJwt(claims({ scope: 'read write' }), signer), { config, method: 'POST' }).outcome).toBeUndefined();
  });

  it('accepts configured audiences and issuers only', () => {
    const token = signJwt(claims({ aud: 'orders-api', iss: 'https://login.example/credential' }), signer);
    expect(run(token, { config: { audiences: ['orders-api'], issuers: ['https://login.example/credential'] } }).outcome).toBeUndefined();
    expect(run(token, { config: { audiences: ['orders-api'], issuers: ['https://other.example/credential'] } }).outcome).toMatchObject({ code: 'invalid_token' });
  });

  it('without GATEWAY_PUBLIC_URL, accepts only the issuer of the host the request came to', () => {
    const byHost: OwnIssuers = { fixed: null, isRequestIssuer: (iss, ctx) => iss === `http://${String(ctx.headers.host)}/credential` };
    const token = signJwt(claims({ iss: 'http://gw.internal:8081/credential' }), signer);
    expect(run(token, { issuers: byHost, host: 'gw.internal:8081' }).outcome).toBeUndefined();
    expect(run(token, { issuers: byHost, host: 'other.internal:8081' }).outcome).toMatchObject({ code: 'invalid_token' });
    // The pattern still bounds what is asked: a non-token-service URL never reaches the host check.
    expect(
      run(signJwt(claims({ iss: 'http://gw.internal:8081/other' }), signer), { issuers: { fixed: null, isRequestIssuer: () => true }, host: 'gw.internal:8081' }).outcome,
    ).toMatchObject({ code: 'invalid_token' });
  });

  it('accepts no token at all when neither the policy nor the host names an issuer', () => {
    expect(run(good, { issuers: null }).outcome).toMatchObject({ code: 'invalid_token' });
    expect(run(good, { issuers: null, config: { issuers: [ISS] } }).outcome).toBeUndefined();
  });

  it('refuses a revoked jti, also a token it has already verified and cached', () => {
    const revokedJwts = new Set<string>();
    const proxy = compileEnvironment(snapshot({}), { now: () => NOW, keyRing: ring, issuers: FIXED, revokedJwts }).route('/orders')!;
    const token = signJwt(claims({ jti: 'revoke-me' }), signer);
    expect(call(proxy, token).outcome).toBeUndefined();
    revokedJwts.add('revoke-me');
    expect(call(proxy, token).outcome).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(call(proxy, signJwt(claims({ jti: 'other' }), signer)).outcome).toBeUndefined();
  });

  it('runs the credential rules after it (authenticating policy)', () => {
    const proxy = compileEnvironment(snapshot({}), { now: () => NOW, keyRing: ring }).route('/orders')!;
    expect(proxy.policies.map((p) => p.type)).toEqual(['jwt-auth', 'credential-rules']);
  });
});
