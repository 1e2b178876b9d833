import type Redis from 'ioredis';
import type { DigestNonceStore } from './digest-nonce.store';

// Atomic compare-and-raise: two Gateways receiving the same (nonce, nc) cannot both accept it.
const ADVANCE = `
local seen = redis.call('GET', KEYS[1])
if seen and tonumber(seen) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** Nonce counts in Redis, kept only as long as the nonce is valid. */
export class RedisDigestNonceStore implements DigestNonceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async advance(nonce: string, nc: number, ttlMs: number): Promise<boolean> {
    const result = await this.redis.eval(ADVANCE, 1, this.prefix + nonce, String(nc), String(Math.max(1, Math.ceil(ttlMs))));
    return result === 1;
  }
}
