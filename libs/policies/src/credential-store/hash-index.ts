/** Marks a table position that never held an entry: a probe stops there. */
const EMPTY = -1;
/** Marks a removed entry: a probe goes on past it, an insertion may reuse it. */
const DELETED = -2;
const SHARD_BITS = 8;
const MIN_CAPACITY = 64;

/** 32-bit FNV-1a over the string's UTF-16 units; `seed` chains several strings into one key. Finish with `mixHash`. */
export function hashString(value: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  return h;
}

/** murmur3's finalizer: FNV leaves the low bits (the table position) poorly mixed. */
export function mixHash(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Open addressing with linear probing: a key's hash and a slot number at the same position of two typed arrays. */
class Shard {
  readonly hashes: Uint32Array;
  readonly slots: Int32Array;
  readonly mask: number;
  /** Positions no longer EMPTY (entries and tombstones): what lengthens probes. */
  used = 0;
  live = 0;

  constructor(capacity: number) {
    this.hashes = new Uint32Array(capacity);
    this.slots = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
  }
}

/**
 * Where every shard starts: nothing is allocated for a shard until its first entry (a directory
 * is 4 indexes of 256 shards; allocating 2,048 typed arrays up front took 10-25 ms of the turn
 * that starts a full load). Never written: `add` replaces it first.
 */
const UNUSED = new Shard(MIN_CAPACITY);

/**
 * A multimap from 32-bit key hashes to record slots, in typed arrays: a million entries are two
 * flat arrays per shard, nothing the garbage collector traces. It stores hashes, not keys, so a
 * lookup gets every slot stored under the hash and the caller keeps the one whose record holds
 * the key (`find`'s `matches`). Split into 256 shards by the hash's top bits: growing one rehashes
 * a 256th of the entries (from the stored hashes, no key is rehashed), so no growth step stalls.
 * (With 16, a million credentials grew each of the directory's four indexes 16 shards of 62,000
 * entries at nearly the same count: 30-70 ms stalls in a full load, issue #13.)
 */
export class HashIndex {
  private readonly shards: Shard[] = new Array<Shard>(1 << SHARD_BITS).fill(UNUSED);

  get size(): number {
    let n = 0;
    for (const s of this.shards) n += s.live;
    return n;
  }

  add(hash: number, slot: number): void {
    let shard = this.shards[hash >>> (32 - SHARD_BITS)];
    if (shard === UNUSED || (shard.used + 1) * 2 > shard.slots.length) shard = this.rehash(hash >>> (32 - SHARD_BITS), shard.live + 1);
    const { hashes, slots, mask } = shard;
    let i = hash & mask;
    while (slots[i] >= 0) i = (i + 1) & mask;
    if (slots[i] === EMPTY) shard.used++;
    slots[i] = slot;
    hashes[i] = hash;
    shard.live++;
  }

  /** The first slot stored under `hash` that `matches(slot, key)` accepts; -1 when none does. */
  find<K>(hash: number, key: K, matches: (slot: number, key: K) => boolean): number {
    const { hashes, slots, mask } = this.shards[hash >>> (32 - SHARD_BITS)];
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return -1;
      if (slot >= 0 && hashes[i] === hash && matches(slot, key)) return slot;
    }
  }

  /** Every slot stored under `hash` (those of other keys with the same hash included). */
  slotsOf(hash: number): number[] {
    const { hashes, slots, mask } = this.shards[hash >>> (32 - SHARD_BITS)];
    const found: number[] = [];
    for (let i = hash & mask; slots[i] !== EMPTY; i = (i + 1) & mask) if (slots[i] >= 0 && hashes[i] === hash) found.push(slots[i]);
    return found;
  }

  /** Removes the entry (hash, slot); false when there is none. */
  delete(hash: number, slot: number): boolean {
    const shard = this.shards[hash >>> (32 - SHARD_BITS)];
    const { hashes, slots, mask } = shard;
    for (let i = hash & mask; slots[i] !== EMPTY; i = (i + 1) & mask) {
      if (slots[i] === slot && hashes[i] === hash) {
        slots[i] = DELETED;
        shard.live--;
        // A shard emptied by removals is rebuilt smaller (and its tombstones dropped).
        if (shard.live * 8 < slots.length && slots.length > MIN_CAPACITY) this.rehash(hash >>> (32 - SHARD_BITS), shard.live);
        return true;
      }
    }
    return false;
  }

  /** Rebuilds shard `n` for `entries` entries at most half full, from the stored hashes. */
  private rehash(n: number, entries: number): Shard {
    const old = this.shards[n];
    let capacity = MIN_CAPACITY;
    while (capacity < entries * 4) capacity *= 2;
    const shard = new Shard(capacity);
    const { hashes, slots, mask } = shard;
    for (let j = 0; j < old.slots.length; j++) {
      const slot = old.slots[j];
      if (slot < 0) continue;
      let i = old.hashes[j] & mask;
      while (slots[i] !== EMPTY) i = (i + 1) & mask;
      slots[i] = slot;
      hashes[i] = old.hashes[j];
    }
    shard.used = shard.live = old.live;
    this.shards[n] = shard;
    return shard;
  }
}
