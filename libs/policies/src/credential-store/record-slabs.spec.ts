import { RecordSlabs } from './record-slabs';

const put = (slabs: RecordSlabs, text: string) => {
  const bytes = Buffer.from(text);
  const slot = slabs.allocate(bytes.length);
  bytes.copy(slabs.buffer(slot), slabs.start(slot));
  return slot;
};
const text = (slabs: RecordSlabs, slot: number) => slabs.buffer(slot).toString('utf8', slabs.start(slot), slabs.start(slot) + slabs.length(slot));

describe('RecordSlabs', () => {
  it('keeps records by slot and reuses a freed slot', () => {
    const slabs = new RecordSlabs(1024);
    const a = put(slabs, 'alpha');
    const b = put(slabs, 'beta');
    expect([text(slabs, a), text(slabs, b)]).toEqual(['alpha', 'beta']);
    slabs.free(a);
    expect(() => slabs.free(a)).toThrow(/not allocated/);
    const c = put(slabs, 'gamma');
    expect(c).toBe(a);
    expect([text(slabs, b), text(slabs, c), slabs.size]).toEqual(['beta', 'gamma', 2]);
  });

  it('compacts a slab that is mostly holes into the current one; the slots keep their records', () => {
    const slabs = new RecordSlabs(256);
    const slots = Array.from({ length: 40 }, (_, i) => put(slabs, `record-${String(i).padStart(3, '0')}-${'x'.repeat(20)}`));
    const before = slabs.slabCount;
    expect(before).toBeGreaterThan(4);
    // Free three of every four: every full slab crosses the half-empty line and is compacted.
    slots.forEach((slot, i) => i % 4 !== 0 && slabs.free(slot));
    expect(slabs.slabCount).toBeLessThan(before / 2);
    slots.forEach((slot, i) => i % 4 === 0 && expect(text(slabs, slot)).toBe(`record-${String(i).padStart(3, '0')}-${'x'.repeat(20)}`));
    // Space and slots are reused: filling again does not grow beyond the first fill.
    const again = Array.from({ length: 30 }, (_, i) => put(slabs, `again-${String(i).padStart(3, '0')}-${'y'.repeat(22)}`));
    expect(new Set([...again, ...slots.filter((_, i) => i % 4 === 0)]).size).toBe(40);
    expect(slabs.slabCount).toBeLessThanOrEqual(before + 1);
    again.forEach((slot, i) => expect(text(slabs, slot)).toBe(`again-${String(i).padStart(3, '0')}-${'y'.repeat(22)}`));
  });

  it('gives a record larger than a slab a slab of its own, dropped with it', () => {
    const slabs = new RecordSlabs(64);
    const small = put(slabs, 'small');
    const big = put(slabs, 'z'.repeat(500));
    expect(text(slabs, big)).toBe('z'.repeat(500));
    expect(slabs.slabCount).toBe(2);
    slabs.free(big);
    expect(slabs.slabCount).toBe(1);
    expect(text(slabs, small)).toBe('small');
  });

  it('grows its slot tables page by page; records on every page survive frees, reuse and compaction', () => {
    const slabs = new RecordSlabs(64 * 1024);
    const n = 150_000; // past two pages of 65,536 slots
    const slots = Array.from({ length: n }, (_, i) => put(slabs, `r${i}`));
    expect(slabs.size).toBe(n);
    expect([0, 65_535, 65_536, 131_072, n - 1].map((i) => text(slabs, slots[i]))).toEqual(['r0', 'r65535', 'r65536', 'r131072', `r${n - 1}`]);
    // Free most records of the first two pages: their slabs compact, the survivors keep their slots.
    for (let i = 0; i < 131_072; i++) if (i % 10 !== 0) slabs.free(slots[i]);
    const reused = put(slabs, 'again');
    expect(reused).toBeLessThan(131_072);
    expect([65_530, 65_540, 131_070, n - 1].map((i) => text(slabs, slots[i]))).toEqual(['r65530', 'r65540', 'r131070', `r${n - 1}`]);
    expect(text(slabs, reused)).toBe('again');
    expect(slabs.size).toBe(n - 131_072 + Math.ceil(131_072 / 10) + 1);
  });
});
