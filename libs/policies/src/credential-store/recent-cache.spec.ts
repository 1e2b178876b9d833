import { RecentCache } from './recent-cache';

describe('RecentCache', () => {
  it('holds at most two generations and keeps what is used again', () => {
    const cache = new RecentCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3); // young full: a, b, c become the old generation
    cache.set('d', 4);
    expect(cache.get('a')).toBe(1); // used again: back in the young generation (d, a)
    cache.set('e', 5); // young full again (d, a, e): b and c are dropped with the old generation
    expect([cache.get('b'), cache.get('c')]).toEqual([undefined, undefined]);
    expect([cache.get('a'), cache.get('d'), cache.get('e')]).toEqual([1, 4, 5]);
    expect(cache.size).toBeLessThanOrEqual(6);
  });

  it('forgets a deleted key in both generations', () => {
    const cache = new RecentCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    expect(() => new RecentCache(0)).toThrow(RangeError);
  });
});
