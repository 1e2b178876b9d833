import { HashIndex, hashString, mixHash } from './hash-index';

describe('HashIndex', () => {
  const all = () => true;

  it('keeps every slot stored under one hash (a collision) and finds the one the caller accepts', () => {
    const index = new HashIndex();
    for (const slot of [3, 7, 11]) index.add(42, slot);
    expect(index.slotsOf(42).sort((a, b) => a - b)).toEqual([3, 7, 11]);
    expect(index.find(42, 7, (slot, wanted) => slot === wanted)).toBe(7);
    expect(index.find(42, 99, (slot, wanted) => slot === wanted)).toBe(-1);
    expect(index.find(43, null, all)).toBe(-1);
    // Shards nothing was added to: found in none, removed from none.
    expect([index.find(0xf0000000, null, all), index.slotsOf(0xf0000000), index.delete(0xf0000000, 1)]).toEqual([-1, [], false]);
  });

  it('finds entries stored after a removed one in the same probe run (tombstones), and reuses the position', () => {
    const index = new HashIndex();
    // Same position in a 64-entry shard (low bits) and the same shard (top bits): one probe run.
    const hashes = [0x10000005, 0x10000045, 0x10000085];
    hashes.forEach((h, slot) => index.add(h, slot));
    expect(index.delete(hashes[0], 0)).toBe(true);
    expect(index.delete(hashes[0], 0)).toBe(false);
    expect(index.find(hashes[2], null, all)).toBe(2);
    expect(index.find(hashes[1], null, all)).toBe(1);
    index.add(hashes[0], 5);
    expect(index.find(hashes[0], null, all)).toBe(5);
    expect(index.size).toBe(3);
  });

  it('grows and shrinks without losing an entry', () => {
    const index = new HashIndex();
    const hashOf = (i: number) => mixHash(hashString(`key-${i}`));
    const n = 50_000;
    const isSlot = (slot: number, wanted: number) => slot === wanted;
    for (let i = 0; i < n; i++) index.add(hashOf(i), i);
    expect(index.size).toBe(n);
    const lost = (from: number, step: number, to = n) => {
      const missing: number[] = [];
      for (let i = from; i < to; i += step) if (index.find(hashOf(i), i, isSlot) !== i) missing.push(i);
      return missing;
    };
    expect(lost(0, 1)).toEqual([]);
    let refused = 0;
    for (let i = 0; i < n; i += 2) if (!index.delete(hashOf(i), i)) refused++;
    expect(lost(1, 2)).toEqual([]);
    for (let i = 1; i < n - 10; i += 2) if (!index.delete(hashOf(i), i)) refused++;
    expect(refused).toBe(0);
    expect(index.size).toBe(5);
    expect(lost(n - 9, 2)).toEqual([]);
    expect(index.find(hashOf(0), 0, (slot, wanted) => slot === wanted)).toBe(-1);
  });

  it('hashes strings to unsigned 32-bit values that differ in their low bits', () => {
    const low = new Set(Array.from({ length: 256 }, (_, i) => mixHash(hashString(`c${i}`)) & 0xff));
    expect(low.size).toBeGreaterThan(140); // ~162 expected of 256 random draws
    expect(mixHash(hashString('é'))).toBeGreaterThanOrEqual(0);
  });
});
