import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import * as jose from 'jose';
import Redis from 'ioredis';
import type { ConfigSnapshot } from '@idm/config-bus';
import { accessTokenHash, certificateThumbprint, DpopNonces, DpopReplayCache, OpaqueTokenStore, signJwt, SigningKeyRing, type JwtClaims } from '@idm/tokens';
import { box, configSnapshot, snapshotCredential, snapshotKey, snapshotProxy } from '@idm/test-kit';
import { compileEnvironment, type CompileOptions } from '../compiled-environment';
import type { OwnIssuers } from '../compile-dependencies';
import { createRequestContext } from '../policy';

/**
 * The binding of sender-constrained tokens through jwt-auth and oauth2-auth, with the replay
 * cache on a real Redis shared by two compiled environments (two Gateways). Proofs are made by
 * jose, an independent implementation.
 */
const NOW = Date.now();
const S = Math.floor(NOW / 1000);
const ORIGIN = 'https://gw.example';
const key = snapshotKey('RS256');
const { ring } = SigningKeyRing.fromSnapshot([key], box);
const signer = ring.signer(NOW)!;
const ISSUERS: OwnIssuers = { fixed: [`${ORIGIN}/credential`], isRequestIssuer: () => false, originOf: () => ORIGIN };
const client = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwkOf = (k: KeyObject) => k.export({ format: 'jwk' }) as jose.JWK;
let jkt: string;

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `idm:test:${randomBytes(6).toString('hex')}`;
const nonces = new DpopNonces(randomBytes(32));
const stores = () => ({ replay: new DpopReplayCache(redis, `{${prefix}}`), nonces });
const tokenStore = new OpaqueTokenStore(redis, { keyPrefix: prefix });

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
});
beforeAll(async () => {
  jkt = await jose.calculateJwkThumbprint(jwkOf(client.publicKey), 'sha256');
});

function snapshot(type: 'jwt-auth' | 'oauth2-auth', config: Record<string, unknown> = {}): ConfigSnapshot {
  return configSnapshot({
    proxies: [snapshotProxy({ id: 'p1', name: 'orders', basePath: '/orders', upstreamUrl: 'http://127.0.0.1:1', methods: ['GET', 'POST'], policies: [{ type, config }] })],
    credentials: [snapshotCredential({ id: 'c1', username: 'app' })],
    signingKeys: [key],
  });
}
/** One "Gateway": the proxy compiled with its own options, sharing the Redis replay cache. */
const gateway = (type: 'jwt-auth' | 'oauth2-auth' = 'jwt-auth', config: Record<string, unknown> = {}, options: CompileOptions = {}) =>
  compileEnvironment(snapshot(type, config), {
    keyRing: ring,
    issuers: ISSUERS,
    opaqueTokens: tokenStore,
    senderConstraint: stores(),
    ...options,
  }).route('/orders')!;
type Route = ReturnType<typeof gateway>;

const jwt = (over: JwtClaims = {}) =>
  signJwt({ iss: `${ORIGIN}/credential`, sub: 'c1', aud: ['/orders'], iat: S, nbf: S, exp: S + 60, jti: randomUUID(), client_id: 'c1', ...over }, signer);
const proof = (token: string, { claims = {}, signer: k = client }: { claims?: object; signer?: typeof client } = {}) =>
  new jose.SignJWT({ jti: randomUUID(), htm: 'GET', htu: `${ORIGIN}/orders/7`, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: jwkOf(k.publicKey) })
    .sign(k.privateKey);

async function call(route: Route, headers: Record<string, string | string[]>, socket: Socket | null = null) {
  const ctx = createRequestContext({ method: 'GET', path: '/orders/7', headers: { host: 'gw.example', ...headers }, query: '', clientIp: '127.0.0.1', socket });
  return { outcome: await route.runPolicies(ctx), ctx };
}
const dpop = async (route: Route, token: string, p?: string | string[]) => call(route, { authorization: `DPoP ${token}`, ...(p !== undefined && { dpop: p }) });

describe('DPoP-bound JWTs through jwt-auth', () => {
  const a = gateway();
  const b = gateway();

  it('accepts the token with a proof by its key, sets the identity and keeps the proof from the upstream', async () => {
    const token = jwt({ cnf: { jkt } });
    const { outcome, ctx } = await dpop(a, token, await proof(token));
    expect(outcome).toBeUndefined();
    expect(ctx.identity?.credentialId).toBe('c1');
    expect(ctx.strippedHeaders).toEqual(expect.arrayContaining(['dpop', 'authorization']));
  });

  it('refuses a proof replayed on the other Gateway (shared jti cache)', async () => {
    const token = jwt({ cnf: { jkt } });
    const p = await proof(token);
    expect((await dpop(a, token, p)).outcome).toBeUndefined();
    expect((await dpop(b, token, p)).outcome).toMatchObject({ status: 401, code: 'dpop_proof_replayed' });
    expect((await dpop(a, token, p)).outcome).toMatchObject({ code: 'dpop_proof_replayed' });
  });

  it('refuses the bound token as a Bearer token, or without a proof, with a DPoP challenge', async () => {
    const token = jwt({ cnf: { jkt } });
    const asBearer = await call(a, { authorization: `Bearer ${token}`, dpop: await proof(token) });
    expect(asBearer.outcome).toMatchObject({ status: 401, code: 'dpop_proof_required' });
    expect(asBearer.outcome?.headers?.['www-authenticate']).toMatch(/^DPoP realm="\/orders", error="invalid_token", algs="[^"]*ES256/);
    expect(asBearer.ctx.identity).toBeNull();
    expect((await dpop(a, token)).outcome).toMatchObject({ status: 401, code: 'dpop_proof_required' });
  });

  it.each<[string, (token: string) => Promise<string | string[]>, string]>([
    ['a proof for another URL', (t) => proof(t, { claims: { htu: `${ORIGIN}/payments/7` } }), 'invalid_dpop_proof'],
    ['a proof for another method', (t) => proof(t, { claims: { htm: 'POST' } }), 'invalid_dpop_proof'],
    ['an old iat', (t) => proof(t, { claims: { iat: S - 120 } }), 'invalid_dpop_proof'],
    ['a missing ath', (t) => proof(t, { claims: { ath: undefined } }), 'invalid_dpop_proof'],
    ['the ath of another token', (t) => proof(t, { claims: { ath: accessTokenHash(jwt({ cnf: { jkt } })) } }), 'invalid_dpop_proof'],
    ['two DPoP headers', async (t) => [await proof(t), await proof(t)], 'invalid_dpop_proof'],
    ['an oversized proof', (t) => proof(t, { claims: { pad: 'x'.repeat(9000) } }), 'invalid_dpop_proof'],
    ['a valid proof by another key (stolen token)', (t) => proof(t, { signer: thief }), 'dpop_key_mismatch'],
  ])('refuses %s', async (_, make, code) => {
    const token = jwt({ cnf: { jkt } });
    const { outcome, ctx } = await dpop(a, token, await make(token));
    expect(outcome).toMatchObject({ status: 401, code });
    expect(outcome?.headers?.['www-authenticate']).toContain('error="invalid_dpop_proof"');
    expect(ctx.identity).toBeNull();
  });

  it('refuses a bearer token presented with the DPoP scheme, and a cnf it cannot enforce', async () => {
    const plain = jwt();
    expect((await dpop(a, plain, await proof(plain))).outcome).toMatchObject({ status: 401, code: 'invalid_token' });
    const odd = jwt({ cnf: { jwk: jwkOf(client.publicKey) } });
    expect((await dpop(a, odd, await proof(odd))).outcome).toMatchObject({ status: 401, code: 'invalid_token' });
    expect((await call(a, { authorization: `Bearer ${plain}` })).outcome).toBeUndefined();
  });

  it('asks for the server nonce when the policy requires one, and accepts a proof carrying it', async () => {
    const route = gateway('jwt-auth', { dpop: { requireNonce: true } });
    const token = jwt({ cnf: { jkt } });
    const { outcome } = await dpop(route, token, await proof(token));
    expect(outcome).toMatchObject({ status: 401, code: 'use_dpop_nonce', headers: { 'dpop-nonce': nonces.current() } });
    expect(outcome?.headers?.['www-authenticate']).toContain('error="use_dpop_nonce"');
    expect((await dpop(route, token, await proof(token, { claims: { nonce: 'made-up.nonce' } }))).outcome).toMatchObject({ code: 'use_dpop_nonce' });
    expect((await dpop(route, token, await proof(token, { claims: { nonce: nonces.current() } }))).outcome).toBeUndefined();
  });

  it('honours the algorithm allow-list', async () => {
    const token = jwt({ cnf: { jkt } });
    expect((await dpop(gateway('jwt-auth', { dpop: { algorithms: ['EdDSA'] } }), token, await proof(token))).outcome).toMatchObject({ code: 'invalid_dpop_proof' });
  });

  it('fails closed (503) when the replay cache is missing', async () => {
    const token = jwt({ cnf: { jkt } });
    expect((await dpop(gateway('jwt-auth', {}, { senderConstraint: null }), token, await proof(token))).outcome).toMatchObject({ status: 503, code: 'replay_cache_unavailable' });
  });
});

describe('certificate-bound JWTs through jwt-auth', () => {
  const der = randomBytes(300);
  /** The TLS connection as the policy reads it (a real one is exercised end to end with curl). */
  const tls = (raw: Buffer | null) => ({ encrypted: true, remoteAddress: '127.0.0.1', getPeerCertificate: () => (raw ? { raw } : {}) }) as unknown as Socket;

  it('accepts the token only on a connection that presented that certificate', async () => {
    const route = gateway();
    const token = jwt({ cnf: { 'x5t#S256': certificateThumbprint(der) } });
    expect((await call(route, { authorization: `Bearer ${token}` }, tls(der))).outcome).toBeUndefined();
    const other = await call(route, { authorization: `Bearer ${token}` }, tls(randomBytes(300)));
    expect(other.outcome).toMatchObject({ status: 401, code: 'certificate_binding_mismatch', headers: { 'www-authenticate': 'Bearer realm="/orders", error="invalid_token"' } });
    expect((await call(route, { authorization: `Bearer ${token}` }, tls(null))).outcome).toMatchObject({ code: 'certificate_binding_mismatch' });
    expect((await call(route, { authorization: `Bearer ${token}` })).outcome).toMatchObject({ code: 'certificate_binding_mismatch' });
  });
});

describe('DPoP-bound opaque tokens through oauth2-auth', () => {
  it('enforces the binding stored with the token', async () => {
    const route = gateway('oauth2-auth');
    const { accessToken } = await tokenStore.issue({ clientId: 'c1', credentialId: 'c1', subject: 'c1', scope: '', environment: 'test', cnf: { jkt } }, { accessTokenSeconds: 60 });
    expect((await dpop(route, accessToken, await proof(accessToken))).outcome).toBeUndefined();
    expect((await call(route, { authorization: `Bearer ${accessToken}` })).outcome).toMatchObject({ code: 'dpop_proof_required' });
    expect((await dpop(route, accessToken, await proof(accessToken, { signer: thief }))).outcome).toMatchObject({ code: 'dpop_key_mismatch' });
    const { accessToken: plain } = await tokenStore.issue({ clientId: 'c1', credentialId: 'c1', subject: 'c1', scope: '', environment: 'test' }, { accessTokenSeconds: 60 });
    expect((await call(route, { authorization: `Bearer ${plain}` })).outcome).toBeUndefined();
  });
});
