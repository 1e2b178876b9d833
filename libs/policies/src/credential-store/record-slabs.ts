/** Bytes per slab: a million credentials of ~250 bytes fill ~60. */
const DEFAULT_SLAB_BYTES = 4 << 20;
/** Each record starts with its slot and its length (compaction walks a slab by them). */
const HEADER = 8;
/** offset of a slot that holds nothing. */
const NOWHERE = 0xffffffff;
/**
 * Slots per page of the per-slot tables (slab, offset, length). Growing them adds a page and
 * copies nothing: doubling one flat array of a million slots copied megabytes in one step, a
 * stall the full load of a million credentials must not have (issue #13).
 */
const PAGE_BITS = 16;
const IN_PAGE = (1 << PAGE_BITS) - 1;

/**
 * Variable-length records in large Buffers (memory outside the V8 heap, bytes the garbage
 * collector never traces), each named by a slot number that stays the same while the record
 * lives. Records are appended to the current slab; a freed record leaves a hole, and a slab whose
 * holes reach half of it is compacted (its live records copied to the current slab, the slab
 * dropped), so space is reclaimed in O(record) amortized per change. A record larger than a slab
 * gets a slab of its own.
 */
export class RecordSlabs {
  private readonly slabs: (Buffer | null)[] = [];
  /** Bytes appended to each slab (its end) and bytes still live in it. */
  private readonly written: number[] = [];
  private readonly live: number[] = [];
  private readonly freeSlabs: number[] = [];
  private current = -1;
  private readonly slabPages: Uint32Array[] = [];
  private readonly offsetPages: Uint32Array[] = [];
  private readonly lengthPages: Uint32Array[] = [];
  private freeSlots = new Int32Array(1024);
  private freeCount = 0;
  private highWater = 0;
  private count = 0;

  constructor(private readonly slabBytes = DEFAULT_SLAB_BYTES) {}

  /** Live records. */
  get size(): number {
    return this.count;
  }

  /** Slabs currently allocated (for specs and diagnostics). */
  get slabCount(): number {
    return this.slabs.length - this.freeSlabs.length;
  }

  /** A new record of `length` bytes (contents undefined until written at `buffer(slot)`, from `start(slot)`). */
  allocate(length: number): number {
    const slot = this.freeCount > 0 ? this.freeSlots[--this.freeCount] : this.newSlot();
    this.place(slot, length);
    this.count++;
    return slot;
  }

  free(slot: number): void {
    const slab = this.slabOf(slot);
    if (this.offsetOf(slot) === NOWHERE) throw new Error(`record slot ${slot} is not allocated`);
    this.live[slab] -= this.length(slot) + HEADER;
    this.offsetPages[slot >>> PAGE_BITS][slot & IN_PAGE] = NOWHERE;
    if (this.freeCount === this.freeSlots.length) this.freeSlots = grown(this.freeSlots, this.freeSlots.length * 2);
    this.freeSlots[this.freeCount++] = slot;
    this.count--;
    if (slab !== this.current) this.reclaim(slab);
  }

  buffer(slot: number): Buffer {
    return this.slabs[this.slabOf(slot)]!;
  }

  /** Where the record's own bytes begin in `buffer(slot)`. */
  start(slot: number): number {
    return this.offsetOf(slot) + HEADER;
  }

  length(slot: number): number {
    return this.lengthPages[slot >>> PAGE_BITS][slot & IN_PAGE];
  }

  private slabOf(slot: number): number {
    return this.slabPages[slot >>> PAGE_BITS][slot & IN_PAGE];
  }

  private offsetOf(slot: number): number {
    return this.offsetPages[slot >>> PAGE_BITS][slot & IN_PAGE];
  }

  private newSlot(): number {
    if ((this.highWater & IN_PAGE) === 0) {
      this.slabPages.push(new Uint32Array(IN_PAGE + 1));
      this.offsetPages.push(new Uint32Array(IN_PAGE + 1).fill(NOWHERE));
      this.lengthPages.push(new Uint32Array(IN_PAGE + 1));
    }
    return this.highWater++;
  }

  /** Appends `length` bytes for `slot` (its bytes are written by the caller or copied by compaction). */
  private place(slot: number, length: number): void {
    const needed = length + HEADER;
    let slab = this.current;
    if (needed > this.slabBytes) {
      slab = this.newSlab(needed);
    } else if (slab < 0 || this.written[slab] + needed > this.slabBytes) {
      const filled = slab;
      slab = this.current = this.newSlab(this.slabBytes);
      if (filled >= 0) this.reclaim(filled);
    }
    const offset = this.written[slab];
    const buffer = this.slabs[slab]!;
    buffer.writeUInt32LE(slot, offset);
    buffer.writeUInt32LE(length, offset + 4);
    this.written[slab] += needed;
    this.live[slab] += needed;
    const page = slot >>> PAGE_BITS;
    this.slabPages[page][slot & IN_PAGE] = slab;
    this.offsetPages[page][slot & IN_PAGE] = offset;
    this.lengthPages[page][slot & IN_PAGE] = length;
    if (needed > this.slabBytes) this.reclaim(slab); // its own slab is never the current one
  }

  private newSlab(bytes: number): number {
    // allocUnsafeSlow: its own memory outside the heap (not a slice of Node's pool); pages are touched only as records fill them.
    const buffer = Buffer.allocUnsafeSlow(bytes);
    const n = this.freeSlabs.length > 0 ? this.freeSlabs.pop()! : this.slabs.length;
    this.slabs[n] = buffer;
    this.written[n] = 0;
    this.live[n] = 0;
    return n;
  }

  /** Drops a slab nothing lives in; compacts one that is mostly holes. */
  private reclaim(slab: number): void {
    if (this.live[slab] === 0) {
      this.slabs[slab] = null;
      this.freeSlabs.push(slab);
    } else if (this.live[slab] * 2 < this.written[slab]) {
      this.compact(slab);
    }
  }

  /** Copies the slab's live records to the current slab and drops it; slot numbers stay. */
  private compact(slab: number): void {
    const from = this.slabs[slab]!;
    const end = this.written[slab];
    // Dropped first, so the copies below can never land in it.
    this.slabs[slab] = null;
    this.live[slab] = 0;
    for (let offset = 0; offset < end;) {
      const slot = from.readUInt32LE(offset);
      const length = from.readUInt32LE(offset + 4);
      // Live when its slot still points here (a freed record's slot may since name another record).
      if (slot < this.highWater && this.slabOf(slot) === slab && this.offsetOf(slot) === offset) {
        this.place(slot, length);
        from.copy(this.buffer(slot), this.start(slot), offset + HEADER, offset + HEADER + length);
      }
      offset += length + HEADER;
    }
    this.freeSlabs.push(slab);
  }
}

function grown<T extends Uint32Array | Int32Array>(array: T, capacity: number): T {
  const next = new (array.constructor as new (n: number) => T)(capacity);
  next.set(array);
  return next;
}
