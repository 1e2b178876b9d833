import { hash } from 'argon2';
import { PasswordVerificationCache } from './password-verification.cache';

describe('PasswordVerificationCache', () => {
  let stored: string;
  beforeAll(async () => {
    stored = await hash('s3cret-pass', { type: 2 });
  });

  it('caches only successes, keyed by the stored hash too', async () => {
    const cache = new PasswordVerificationCache();
    expect(await cache.verify('c1', stored, 'wrong')).toBe(false);
    expect(cache.size).toBe(0);
    expect(await cache.verify('c1', stored, 's3cret-pass')).toBe(true);
    expect(cache.verify('c1', stored, 's3cret-pass')).toBe(true);
    const rehashed = await hash('s3cret-pass', { type: 2 });
    expect(cache.verify('c1', rehashed, 's3cret-pass')).toBeInstanceOf(Promise);
  });

  it('shares one verification between concurrent callers and survives a corrupt hash', async () => {
    const cache = new PasswordVerificationCache();
    const a = cache.verify('c1', stored, 's3cret-pass');
    const b = cache.verify('c1', stored, 's3cret-pass');
    expect(a).toBe(b);
    await expect(cache.verify('c2', 'not-a-phc-string', 'x')).resolves.toBe(false);
  });

  it('evicts the least recently used entry beyond its bound', async () => {
    const cache = new PasswordVerificationCache(2);
    await cache.verify('a', stored, 's3cret-pass');
    await cache.verify('b', stored, 's3cret-pass');
    void cache.verify('a', stored, 's3cret-pass'); // touch a
    await cache.verify('c', stored, 's3cret-pass');
    expect(cache.size).toBe(2);
    expect(cache.verify('a', stored, 's3cret-pass')).toBe(true);
    expect(cache.verify('b', stored, 's3cret-pass')).toBeInstanceOf(Promise);
  });
});
