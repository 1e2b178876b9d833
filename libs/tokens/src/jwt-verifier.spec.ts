import { createHmac, createPublicKey } from 'node:crypto';
import * as jose from 'jose';
import { ALGORITHMS, box, privateKeyFor, snapshotKey } from '@idm/test-kit';
import { JwtVerifier, type JwtVerification, type JwtVerifierOptions } from './jwt-verifier';
import { signJwt, type JwtSigningKey } from './jwt-signer';
import { SigningKeyRing } from './signing-key-ring';
import type { SigningAlgorithm } from '@idm/domain';

const NOW = Date.parse('2025-06-01T00:00:00Z');
const nowSeconds = NOW / 1000;
const ISSUER = 'https://gw.example/auth';
const AUDIENCE = 'orders-api';

const { ring } = SigningKeyRing.fromSnapshot(
  ALGORITHMS.map((alg) => snapshotKey(alg)),
  box,
);
const keyFor = (algorithm: SigningAlgorithm): JwtSigningKey => ({
  kid: ring.jwks(NOW).keys.find((k) => k.alg === algorithm)!.kid,
  algorithm,
  privateKey: privateKeyFor(algorithm),
});
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: nowSeconds, exp: nowSeconds + 300, ...extra });

function verifier(options: Partial<JwtVerifierOptions> & { at?: () => number } = {}) {
  return new JwtVerifier(ring, { issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 30, clock: options.at ?? (() => NOW), ...options });
}
const reason = (result: JwtVerification) => (result.ok ? 'ok' : result.rejection.reason);
const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('JwtVerifier agrees with jose', () => {
  it.each(ALGORITHMS)('%s: jose signs, we verify', async (alg) => {
    const key = keyFor(alg);
    const token = await new jose.SignJWT(claims()).setProtectedHeader({ alg, kid: key.kid, typ: 'at+jwt' }).sign(privateKeyFor(alg));
    const result = verifier().verify(token);
    expect(result).toEqual({ ok: true, kid: key.kid, claims: claims() });
  });

  it.each(ALGORITHMS)('%s: we sign, jose verifies with the published JWK', async (alg) => {
    const key = keyFor(alg);
    const token = signJwt(claims(), key);
    const jwks = jose.createLocalJWKSet(ring.jwks(NOW));
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, { issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(NOW), algorithms: [alg] });
    expect(payload).toEqual(claims());
    expect(protectedHeader).toEqual({ alg, kid: key.kid, typ: 'at+jwt' });
  });

  it('keeps a configured typ in the header', () => {
    const token = signJwt(claims(), keyFor('ES256'), { typ: 'JWT' });
    expect(jose.decodeProtectedHeader(token).typ).toBe('JWT');
  });

  // The time rules are jose's (plus iat); the same table must get the same answer from both.
  it.each([
    ['fresh', {}],
    ['exp just inside the skew', { exp: nowSeconds - 29 }],
    ['exp exactly at the skew', { exp: nowSeconds - 30 }],
    ['nbf inside the skew', { nbf: nowSeconds + 30 }],
    ['nbf beyond the skew', { nbf: nowSeconds + 31 }],
  ])('time rules match jose: %s', async (_name, extra) => {
    const token = signJwt(claims(extra), keyFor('RS256'));
    const ours = verifier().verify(token).ok;
    const theirs = await jose
      .jwtVerify(token, createPublicKey(privateKeyFor('RS256')), { issuer: ISSUER, audience: AUDIENCE, clockTolerance: 30, currentDate: new Date(NOW) })
      .then(
        () => true,
        () => false,
      );
    expect(ours).toBe(theirs);
  });
});

describe('JwtVerifier rejects', () => {
  const rs = keyFor('RS256');

  it('a tampered payload', () => {
    const [h, , s] = signJwt(claims(), rs).split('.');
    expect(reason(verifier().verify(`${h}.${segment(claims({ sub: 'admin' }))}.${s}`))).toBe('bad_signature');
  });

  it('a token signed by a key the kid does not name', () => {
    const forged = signJwt(claims(), { ...rs, privateKey: privateKeyFor('RS256', 1) });
    expect(reason(verifier().verify(forged))).toBe('bad_signature');
  });

  it('alg none, with or without a signature', () => {
    const unsigned = `${segment({ alg: 'none', kid: rs.kid })}.${segment(claims())}`;
    expect(reason(verifier().verify(`${unsigned}.`))).toBe('algorithm_not_allowed');
    expect(reason(verifier().verify(`${unsigned}.c2ln`))).toBe('algorithm_not_allowed');
  });

  it('HS256 signed with the RSA public key PEM as HMAC secret', () => {
    const pem = createPublicKey(privateKeyFor('RS256')).export({ format: 'pem', type: 'spki' }).toString();
    const input = `${segment({ alg: 'HS256', kid: rs.kid, typ: 'JWT' })}.${segment(claims())}`;
    const token = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    expect(reason(verifier().verify(token))).toBe('algorithm_not_allowed');
  });

  it('another asymmetric alg than the one pinned to the key (RS256 key used as PS256)', () => {
    const swapped = signJwt(claims(), { ...rs, algorithm: 'PS256' });
    expect(reason(verifier().verify(swapped))).toBe('algorithm_not_allowed');
  });

  it('an unknown or missing kid', () => {
    expect(reason(verifier().verify(signJwt(claims(), { ...rs, kid: 'nope' })))).toBe('unknown_kid');
    const input = `${segment({ alg: 'RS256' })}.${segment(claims())}`;
    expect(reason(verifier().verify(`${input}.AAAA`))).toBe('unknown_kid');
  });

  it('an expired token, a not yet valid one, and one issued in the future', () => {
    expect(reason(verifier().verify(signJwt(claims({ exp: nowSeconds - 31 }), rs)))).toBe('expired');
    expect(reason(verifier().verify(signJwt(claims({ nbf: nowSeconds + 60 }), rs)))).toBe('not_yet_valid');
    expect(reason(verifier().verify(signJwt(claims({ iat: nowSeconds + 60 }), rs)))).toBe('not_yet_valid');
    expect(reason(verifier().verify(signJwt(claims({ iat: nowSeconds + 20 }), rs)))).toBe('ok');
  });

  it('the wrong audience or issuer', () => {
    expect(reason(verifier().verify(signJwt(claims({ aud: 'billing-api' }), rs)))).toBe('wrong_audience');
    expect(reason(verifier().verify(signJwt(claims({ aud: undefined }), rs)))).toBe('wrong_audience');
    expect(reason(verifier().verify(signJwt(claims({ aud: ['billing-api', AUDIENCE] }), rs)))).toBe('ok');
    expect(reason(verifier({ audience: ['x', AUDIENCE] }).verify(signJwt(claims(), rs)))).toBe('ok');
    expect(reason(verifier({ audience: undefined }).verify(signJwt(claims({ aud: 'anything' }), rs)))).toBe('ok');
    expect(reason(verifier().verify(signJwt(claims({ iss: 'https://evil.example' }), rs)))).toBe('wrong_issuer');
    expect(reason(verifier().verify(signJwt(claims({ iss: undefined }), rs)))).toBe('wrong_issuer');
  });

  it.each([
    ['not a string', 42],
    ['two segments', 'a.b'],
    ['four segments', 'a.b.c.d'],
    ['padding', 'eyJhbGciOiJSUzI1NiJ9=.e30.AAAA'],
    ['header not JSON', `${Buffer.from('{oops').toString('base64url')}.e30.AAAA`],
    ['header an array', `${segment([1])}.e30.AAAA`],
    ['too long', `${segment({ alg: 'RS256', kid: 'k' })}.${'A'.repeat(9000)}.AAAA`],
    ['crit header', `${segment({ alg: 'RS256', kid: 'k', crit: ['b64'] })}.e30.AAAA`],
  ])('malformed input: %s', (_name, token) => {
    expect(reason(verifier().verify(token as string))).toBe('malformed');
  });

  it('signed tokens whose claims are not well-typed or lack exp', () => {
    expect(reason(verifier().verify(signJwt(claims({ exp: undefined }), rs)))).toBe('malformed');
    expect(reason(verifier().verify(signJwt(claims({ exp: '9999999999' }), rs)))).toBe('malformed');
    expect(reason(verifier().verify(signJwt(claims({ aud: [1] }), rs)))).toBe('malformed');
  });

  it('anything but an access token (RFC 9068 typ), even signed by the same key', async () => {
    const rs256 = keyFor('RS256');
    expect(reason(verifier().verify(signJwt(claims(), rs256, { typ: 'JWT' })))).toBe('wrong_type');
    // An OpenID Connect ID token: same key, same claims shape, not an access token.
    expect(reason(verifier().verify(signJwt(claims({ nonce: 'n' }), rs256, { typ: 'id_token+jwt' })))).toBe('wrong_type');
    const untyped = await new jose.SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: rs256.kid }).sign(privateKeyFor('RS256'));
    expect(reason(verifier().verify(untyped))).toBe('wrong_type');
    expect(reason(verifier().verify(signJwt(claims(), rs256, { typ: 'application/AT+JWT' })))).toBe('ok');
    expect(reason(verifier().verify(signJwt(claims(), rs256)))).toBe('ok');
  });

  it('never throws, and maps to RFC 6750 invalid_token', () => {
    const result = verifier().verify(signJwt(claims({ exp: 1 }), rs));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.rejection.toOAuthError().toJSON()).toEqual({ error: 'invalid_token', error_description: 'the token has expired' });
  });
});

describe('JwtVerifier cache', () => {
  const es = keyFor('ES256');

  it('serves repeated tokens from the cache but still rejects them after exp', () => {
    let now = NOW;
    const cached = verifier({ at: () => now });
    const token = signJwt(claims({ exp: nowSeconds + 60 }), es);
    const first = cached.verify(token);
    expect(first.ok).toBe(true);
    expect(cached.verify(token)).toEqual(first);
    if (first.ok) expect(Object.isFrozen(first.claims)).toBe(true);
    now = NOW + 89_000;
    expect(reason(cached.verify(token))).toBe('ok');
    now = NOW + 90_000;
    expect(reason(cached.verify(token))).toBe('expired');
    now = NOW;
    expect(reason(cached.verify(token))).toBe('ok');
  });

  it('refuses a revoked jti at once, also when the token is already cached', () => {
    const revoked = new Set<string>();
    const cached = verifier({ revoked });
    const token = signJwt(claims({ jti: 'to-revoke' }), es);
    const other = signJwt(claims({ jti: 'kept' }), es);
    expect(reason(cached.verify(token))).toBe('ok');
    expect(reason(cached.verify(other))).toBe('ok');
    revoked.add('to-revoke');
    expect(reason(cached.verify(token))).toBe('revoked');
    expect(reason(cached.verify(token))).toBe('revoked');
    expect(reason(verifier({ revoked }).verify(token))).toBe('revoked');
    expect(reason(cached.verify(other))).toBe('ok');
  });

  it('drops cached tokens whose key left the ring', () => {
    const cached = verifier();
    const token = signJwt(claims(), es);
    expect(reason(cached.verify(token))).toBe('ok');
    cached.useKeyRing(SigningKeyRing.empty());
    expect(reason(cached.verify(token))).toBe('unknown_kid');
    cached.useKeyRing(ring);
    expect(reason(cached.verify(token))).toBe('ok');
  });

  it('stays within maxCacheEntries and still verifies with the cache disabled', () => {
    for (const size of [0, 2]) {
      const small = verifier({ maxCacheEntries: size });
      for (let i = 0; i < 5; i++) expect(reason(small.verify(signJwt(claims({ jti: String(i) }), es)))).toBe('ok');
      expect((small as unknown as { cache: { size: number } }).cache.size).toBe(size);
    }
  });
});
