import { ShardedMap } from './sharded-map';

describe('ShardedMap', () => {
  it('behaves as one map: set, replace, delete and size across shards', () => {
    const map = new ShardedMap<number>();
    for (let i = 0; i < 10_000; i++) map.set(`key-${i}`, i);
    map.set('key-5', -5);
    expect(map.size).toBe(10_000);
    expect(map.get('key-5')).toBe(-5);
    expect(map.get('key-9999')).toBe(9999);
    expect(map.delete('key-5')).toBe(true);
    expect(map.delete('key-5')).toBe(false);
    expect(map.get('key-5')).toBeUndefined();
    expect(map.size).toBe(9_999);
    map.set('', 1); // shorter than the hashed tail
    expect(map.get('')).toBe(1);
  });
});
