import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { SecretBox } from '@idm/domain';
import { box, snapshotKey } from '@idm/test-kit';
import { SigningKeyRing } from './signing-key-ring';

const at = (iso: string) => Date.parse(iso);
const NOW = at('2025-06-01T00:00:00Z');

describe('SigningKeyRing', () => {
  const old = snapshotKey('RS256', { activatesAt: '2025-01-01T00:00:00Z', publishedUntil: '2025-06-02T00:00:00Z' });
  const current = snapshotKey('ES256', { activatesAt: '2025-05-01T00:00:00Z' });
  const upcoming = snapshotKey('EdDSA', { activatesAt: '2025-06-10T00:00:00Z' });
  const retired = snapshotKey('PS256', { activatesAt: '2024-01-01T00:00:00Z', publishedUntil: '2025-02-01T00:00:00Z' });
  const { ring, problems } = SigningKeyRing.fromSnapshot([old, current, upcoming, retired], box);

  it('imports every healthy key without problems', () => {
    expect(problems).toEqual([]);
  });

  it('signs with the newest activated key that is still published', () => {
    expect(ring.signer(NOW)?.kid).toBe(current.kid);
    expect(ring.signer(at('2025-04-01T00:00:00Z'))?.kid).toBe(old.kid);
    expect(ring.signer(at('2025-06-10T00:00:00Z'))?.kid).toBe(upcoming.kid);
    expect(ring.signer(at('2023-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('lets a key being retired sign only tokens that expire before it stops being published', () => {
    const dayBeforeRetirement = at('2025-06-01T00:00:00Z');
    // Pinned to the old key's algorithm: a 1-hour token fits in the day left, a 2-day one does not.
    expect(ring.signer(dayBeforeRetirement, 'RS256', 3600)?.kid).toBe(old.kid);
    expect(ring.signer(dayBeforeRetirement, 'RS256', 2 * 86400)).toBeUndefined();
    // A key not being retired signs tokens of any lifetime.
    expect(ring.signer(dayBeforeRetirement, 'ES256', 10 * 365 * 86400)?.kid).toBe(current.kid);
  });

  it('publishes keys that activate later and drops keys past publishedUntil', () => {
    const kids = ring.jwks(NOW).keys.map((k) => k.kid);
    expect(kids.sort()).toEqual([old.kid, current.kid, upcoming.kid].sort());
    expect(ring.jwks(at('2025-06-03T00:00:00Z')).keys.map((k) => k.kid)).not.toContain(old.kid);
  });

  it('publishes only public members, with kid, alg and use', () => {
    for (const jwk of ring.jwks(NOW).keys) {
      expect(jwk).not.toHaveProperty('d');
      expect(jwk).toMatchObject({ use: 'sig' });
      expect(Object.isFrozen(jwk)).toBe(true);
    }
    expect(ring.jwks(NOW).keys.find((k) => k.kid === current.kid)).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
  });

  it('hands out the pinned public key for published kids only', () => {
    const found = ring.verificationKey(current.kid, NOW);
    expect(found?.algorithm).toBe('ES256');
    expect(found?.key.type).toBe('public');
    expect(ring.verificationKey(upcoming.kid, NOW)?.algorithm).toBe('EdDSA');
    expect(ring.verificationKey(retired.kid, NOW)).toBeUndefined();
    expect(ring.verificationKey('no-such-kid', NOW)).toBeUndefined();
  });

  it('skips keys it cannot use and names them, without throwing', () => {
    const otherBox = new SecretBox([{ id: 'other', key: randomBytes(32) }]);
    const rsa = snapshotKey('RS384');
    const foreignSeal = { ...snapshotKey('RS512'), privateKey: otherBox.seal('x') };
    const garbage = { ...snapshotKey('PS384'), privateKey: box.seal('not a pem') };
    const wrongType = { ...snapshotKey('ES384'), algorithm: 'RS256' };
    const wrongCurve = { ...snapshotKey('ES384'), algorithm: 'ES256' };
    const mismatch = { ...rsa, kid: 'mismatch', publicJwk: snapshotKey('RS256').publicJwk };
    const hmac = { ...snapshotKey('RS256'), kid: 'hmac', algorithm: 'HS256' };
    const badDate = { ...snapshotKey('ES512'), activatesAt: 'soon' };
    const { ring: partial, problems: found } = SigningKeyRing.fromSnapshot([rsa, rsa, foreignSeal, garbage, wrongType, wrongCurve, mismatch, hmac, badDate], box);

    expect(found.map((p) => [p.kid, p.reason])).toEqual([
      [rsa.kid, 'duplicate_kid'],
      [foreignSeal.kid, 'sealed_key_unreadable'],
      [garbage.kid, 'key_unusable'],
      [wrongType.kid, 'key_unusable'],
      [wrongCurve.kid, 'key_unusable'],
      ['mismatch', 'public_key_mismatch'],
      ['hmac', 'unsupported_algorithm'],
      [badDate.kid, 'invalid_dates'],
    ]);
    expect(partial.jwks(NOW).keys.map((k) => k.kid)).toEqual([rsa.kid]);
    expect(JSON.stringify(found)).not.toContain('PRIVATE KEY');
  });

  it('refuses RSA keys shorter than 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const entry = { ...snapshotKey('RS256'), privateKey: box.seal(small.export({ format: 'pem', type: 'pkcs8' }).toString()) };
    expect(SigningKeyRing.fromSnapshot([entry], box).problems[0]).toMatchObject({ reason: 'key_unusable' });
  });

  it('an empty ring signs nothing and publishes nothing', () => {
    const empty = SigningKeyRing.empty();
    expect(empty.signer(NOW)).toBeUndefined();
    expect(empty.jwks(NOW)).toEqual({ keys: [] });
  });
});
