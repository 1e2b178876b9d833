import { createHmac, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import * as jose from 'jose';
import Redis from 'ioredis';
import { accessTokenHash, DPOP_ALGORITHMS, DPOP_PROOF_MAX_LENGTH, verifyDpopProof, type DpopProofExpectations } from './dpop-proof';
import { DpopNonces } from './dpop-nonces';
import { DpopReplayCache } from './dpop-replay-cache';
import { jwkThumbprint } from './jwk-thumbprint';
import { normalizeHtu } from './htu';
import { TokenStoreUnavailable } from '../token-store-unavailable';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const S = NOW / 1000;
const URL_ = 'https://api.example.com/orders/42';
const TOKEN = 'access-token-value';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const expect_ = (over: Partial<DpopProofExpectations> = {}): DpopProofExpectations => ({
  method: 'GET',
  url: URL_,
  accessToken: TOKEN,
  algorithms: DPOP_ALGORITHMS,
  maxAgeSeconds: 60,
  clockSkewSeconds: 10,
  now: NOW,
  ...over,
});
const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' }) as jose.JWK;

/** A proof as jose (an independent implementation) builds it. */
async function proof({
  claims = {},
  header = {},
  key = ec.privateKey,
  jwk = jwkOf(ec.publicKey),
  alg = 'ES256',
}: { claims?: object; header?: object; key?: KeyObject; jwk?: object; alg?: string } = {}): Promise<string> {
  return new jose.SignJWT({ jti: randomUUID(), htm: 'GET', htu: URL_, iat: S, ath: accessTokenHash(TOKEN), ...claims })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk, ...header } as jose.JWTHeaderParameters)
    .sign(key);
}
const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const failureOf = (p: string, over: Partial<DpopProofExpectations> = {}) => {
  const result = verifyDpopProof(p, expect_(over));
  return result.ok ? 'ok' : result.failure;
};

describe('verifyDpopProof (RFC 9449 §4.3)', () => {
  it.each([
    ['ES256', () => ec],
    ['ES384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['PS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
  ] as const)('accepts a %s proof made by jose and names the key by its RFC 7638 thumbprint', async (alg, pair) => {
    const { privateKey, publicKey } = pair();
    const jwk = jwkOf(publicKey);
    const result = verifyDpopProof(await proof({ alg, key: privateKey, jwk }), expect_());
    expect(result).toMatchObject({ ok: true, jkt: await jose.calculateJwkThumbprint(jwk, 'sha256'), iat: S });
  });

  it('compares htu without query and fragment, after normalization', async () => {
    expect(failureOf(await proof({ claims: { htu: 'HTTPS://API.example.com:443/orders/42?x=1#f' } }))).toBe('ok');
    expect(failureOf(await proof(), { url: `${URL_}?page=2` })).toBe('ok');
    expect(normalizeHtu('https://a.example/x/../y')).toBe('https://a.example/y');
    expect(normalizeHtu('https://user:pw@a.example/')).toBeNull();
    expect(normalizeHtu('ftp://a.example/')).toBeNull();
  });

  it('needs no ath at the token endpoint (no access token yet)', async () => {
    expect(failureOf(await proof({ claims: { ath: undefined } }), { accessToken: undefined })).toBe('ok');
  });

  it.each<[string, () => Promise<string>, Partial<DpopProofExpectations>?]>([
    ['a proof for another URL', () => proof({ claims: { htu: 'https://api.example.com/payments' } })],
    ['a proof for another host', () => proof({ claims: { htu: 'https://evil.example/orders/42' } })],
    ['a proof for another method', () => proof({ claims: { htm: 'POST' } })],
    ['a proof with a lower-case method', () => proof({ claims: { htm: 'get' } })],
    ['an old iat', () => proof({ claims: { iat: S - 71 } })],
    ['an iat in the future', () => proof({ claims: { iat: S + 11 } })],
    ['a missing ath', () => proof({ claims: { ath: undefined } })],
    ['the ath of another token', () => proof({ claims: { ath: accessTokenHash('other-token') } })],
    ['a missing jti', () => proof({ claims: { jti: undefined } })],
    ['typ JWT', () => proof({ header: { typ: 'JWT' } })],
    ['a jwk that is not the signing key', () => proof({ jwk: jwkOf(other.publicKey) })],
    ['a private key in the header', () => proof({ jwk: ec.privateKey.export({ format: 'jwk' }) })],
    ['no jwk', () => proof({ header: { jwk: undefined } })],
    ['an RSA key claiming ES256', async () => proof({ jwk: jwkOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey) })],
    ['an algorithm outside the allow-list', () => proof(), { algorithms: ['RS256'] }],
    [
      'alg none',
      async () => `${segment({ alg: 'none', typ: 'dpop+jwt', jwk: jwkOf(ec.publicKey) })}.${segment({ jti: 'x', htm: 'GET', htu: URL_, iat: S, ath: accessTokenHash(TOKEN) })}.`,
    ],
    [
      'HS256 keyed with the public JWK',
      async () => {
        const input = `${segment({ alg: 'HS256', typ: 'dpop+jwt', jwk: jwkOf(ec.publicKey) })}.${segment({ jti: 'x', htm: 'GET', htu: URL_, iat: S, ath: accessTokenHash(TOKEN) })}`;
        return `${input}.${createHmac('sha256', JSON.stringify(jwkOf(ec.publicKey)))
          .update(input)
          .digest('base64url')}`;
      },
    ],
    ['an oversized proof', () => proof({ claims: { pad: 'x'.repeat(DPOP_PROOF_MAX_LENGTH) } })],
    ['garbage', async () => 'not.a.proof'],
    [
      'a tampered payload',
      async () => {
        const [h, , sig] = (await proof()).split('.');
        return `${h}.${segment({ jti: 'x', htm: 'GET', htu: URL_, iat: S, ath: accessTokenHash(TOKEN), extra: 1 })}.${sig}`;
      },
    ],
    // Rest parameters: jest reads a test function taking more arguments than a row has as one that waits for `done`.
  ])('refuses %s', async (...[, make, over]) => {
    expect(failureOf(await make(), over)).not.toBe('ok');
  });

  it('names what failed', async () => {
    expect(failureOf(await proof({ claims: { htu: 'https://api.example.com/payments' } }))).toBe('htu');
    expect(failureOf(await proof({ claims: { htm: 'POST' } }))).toBe('htm');
    expect(failureOf(await proof({ claims: { iat: S - 300 } }))).toBe('iat');
    expect(failureOf(await proof({ claims: { ath: undefined } }))).toBe('ath');
    expect(failureOf(await proof({ jwk: jwkOf(other.publicKey) }))).toBe('signature');
    expect(failureOf(await proof({ claims: { pad: 'x'.repeat(DPOP_PROOF_MAX_LENGTH) } }))).toBe('oversized');
  });
});

describe('jwkThumbprint', () => {
  it.each([
    ['EC', ec.publicKey],
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['OKP', generateKeyPairSync('ed25519').publicKey],
  ])('%s: equals jose.calculateJwkThumbprint', async (_, key) => {
    const jwk = jwkOf(key);
    expect(jwkThumbprint(jwk as Record<string, unknown>)).toBe(await jose.calculateJwkThumbprint(jwk, 'sha256'));
  });

  it('matches the RFC 7638 §3.1 example', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    expect(jwkThumbprint({ kty: 'RSA', n, e: 'AQAB', alg: 'RS256', kid: '2011-04-29' })).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});

describe('DpopNonces', () => {
  const key = Buffer.alloc(32, 7);
  it('accepts its own nonce and one of another Gateway with the same key, for one to two windows', () => {
    let now = NOW;
    const a = new DpopNonces(key, 300, () => now);
    const b = new DpopNonces(Buffer.from(key), 300, () => now);
    const nonce = a.current();
    expect(b.isValid(nonce)).toBe(true);
    now += 300_000;
    expect(b.isValid(nonce)).toBe(true);
    now += 300_000;
    expect(b.isValid(nonce)).toBe(false);
  });

  it('refuses forged, foreign and malformed nonces', () => {
    const a = new DpopNonces(key, 300, () => NOW);
    const foreign = new DpopNonces(Buffer.alloc(32, 8), 300, () => NOW).current();
    expect(a.isValid(foreign)).toBe(false);
    expect(a.isValid(`${a.current().split('.')[0]}.AAAA`)).toBe(false);
    expect(a.isValid(undefined)).toBe(false);
    expect(a.isValid('x'.repeat(65))).toBe(false);
  });
});

describe('DpopReplayCache (real Redis)', () => {
  const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
  const prefix = `{idm:dpop:spec-${randomUUID()}}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('admits a proof once across caches sharing Redis, and keys by key thumbprint and jti', async () => {
    const one = new DpopReplayCache(redis, prefix);
    const two = new DpopReplayCache(redis.duplicate(), prefix);
    expect(await one.firstUse('jkt-a', 'jti-1', 60)).toBe(true);
    expect(await two.firstUse('jkt-a', 'jti-1', 60)).toBe(false);
    expect(await two.firstUse('jkt-b', 'jti-1', 60)).toBe(true);
    const ttl = await redis.ttl((await redis.keys(`${prefix}:*`))[0]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    (two as unknown as { redis: Redis }).redis.disconnect();
  });

  it('fails closed when Redis cannot answer', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    await expect(new DpopReplayCache(down, prefix).firstUse('k', 'j', 60)).rejects.toBeInstanceOf(TokenStoreUnavailable);
    down.disconnect();
  });
});
