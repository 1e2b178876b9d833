import type { KeyVersion } from '../jose-keys/key-versions';
import { safeReturnTo } from './return-to';
import { CookieSealer, cookieOf, cookiesWithout } from './sealed-cookie';

const version = (kid: string, byte: number, retiresAt = Infinity): KeyVersion => ({
  kid,
  retiresAt,
  x5tS256: null,
  x5t: null,
  certificates: [],
  publicKey: null,
  privateKey: new Uint8Array(32).fill(byte),
});

describe('oidc cookies', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('opens what it sealed, for the same proxy and cookie name only', () => {
    const sealer = new CookieSealer([version('k1', 1)], 'proxy-a', clock);
    const sealed = sealer.seal('OIDC_SESSION', { c: { sub: 'alice' }, exp: 5 });
    expect(sealer.open('OIDC_SESSION', sealed)).toEqual({ c: { sub: 'alice' }, exp: 5 });
    expect(sealer.open('OIDC_SESSION_LOGIN', sealed)).toBeNull();
    expect(new CookieSealer([version('k1', 1)], 'proxy-b', clock).open('OIDC_SESSION', sealed)).toBeNull();
  });

  it('refuses tampered, truncated and unknown-key values', () => {
    const sealer = new CookieSealer([version('k1', 1)], 'p', clock);
    const sealed = sealer.seal('S', { a: 1 });
    const [v, kid, data] = sealed.split('.');
    const flipped = data.slice(0, 30) + (data[30] === 'A' ? 'B' : 'A') + data.slice(31);
    for (const bad of [`${v}.${kid}.${flipped}`, `${v}.${kid}.${data.slice(0, 20)}`, `${v}.k2.${data}`, `v2.${kid}.${data}`, `${sealed}.x`, '', 'garbage']) {
      expect([bad, sealer.open('S', bad)]).toEqual([bad, null]);
    }
  });

  it('seals with the newest version and opens older ones until they retire', () => {
    const old = new CookieSealer([version('k1', 1)], 'p', clock).seal('S', { a: 1 });
    const rotated = new CookieSealer([version('k1', 1, now + 1000), version('k2', 2)], 'p', clock);
    expect(rotated.seal('S', {}).split('.')[1]).toBe('k2');
    expect(rotated.open('S', old)).toEqual({ a: 1 });
    now += 1000;
    expect(rotated.open('S', old)).toBeNull();
  });

  it('deciphers a text once (its next openings are what it opened to), never a tampered copy of it, and no more than a bounded number of texts', () => {
    const sealer = new CookieSealer([version('k1', 1)], 'p', clock);
    const sealed = sealer.seal('S', { c: { sub: 'alice' } });
    const first = sealer.open('S', sealed);
    expect(sealer.open('S', sealed)).toBe(first);
    const [v, kid, data] = sealed.split('.');
    expect(sealer.open('S', `${v}.${kid}.${data.slice(0, -2)}${data.endsWith('AA') ? 'BB' : 'AA'}`)).toBeNull();
    expect(sealer.open('T', sealed)).toBeNull();
    // Thousands of other texts later, the first one is deciphered again (a new object, the same value).
    for (let i = 0; i < 3000; i++) sealer.open('S', sealer.seal('S', { i }));
    const again = sealer.open('S', sealed);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => new CookieSealer([{ ...version('k', 1), privateKey: new Uint8Array(16) }], 'p', clock)).toThrow(/at least 32 bytes/);
  });

  it('reads one cookie and removes the policy cookies from the header', () => {
    const header = 'a=1; OIDC_SESSION=v1.k.x; b=2; OIDC_SESSION_LOGIN=y';
    expect(cookieOf(header, 'OIDC_SESSION')).toBe('v1.k.x');
    expect(cookieOf(header, 'c')).toBeUndefined();
    expect(cookiesWithout(header, ['OIDC_SESSION', 'OIDC_SESSION_LOGIN'])).toBe('a=1; b=2');
    expect(cookiesWithout('OIDC_SESSION=x', ['OIDC_SESSION'])).toBeNull();
  });
});

describe('oidc return_to', () => {
  it.each([
    ['/app/', '/app/'],
    ['/app', '/app'],
    ['/app/deep/link?a=1&b=2', '/app/deep/link?a=1&b=2'],
    ['/app/x/../y', '/app/y'],
  ])('keeps %s', (value, kept) => expect(safeReturnTo(value, '/app')).toBe(kept));

  it.each([
    'https://evil.example/app/',
    '//evil.example/app/',
    '/\\evil.example/app/',
    '/app/../admin',
    '/application',
    '/other',
    'app/x',
    'javascript:alert(1)',
    '/app/\r\nSet-Cookie: x=1',
    '/app/\t',
    `/app/${'x'.repeat(2100)}`,
  ])('refuses %s', (value) => expect(safeReturnTo(value, '/app')).toBeNull());
});
