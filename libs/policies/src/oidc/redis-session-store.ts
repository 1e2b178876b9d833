import type Redis from 'ioredis';
import type { OidcSessionStore } from './session-store';

/**
 * Sessions in Redis under `<prefix><key>`, each with its TTL (the earlier of the idle and the
 * absolute end), so Redis forgets sessions nobody uses. The connection is expected to fail fast
 * (no offline queue): a request then gets 503 at once instead of hanging.
 */
export class RedisOidcSessionStore implements OidcSessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async create(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, value, 'PX', ttl(ttlMs), 'NX')) === 'OK';
  }

  async update(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, value, 'PX', ttl(ttlMs), 'XX')) === 'OK';
  }

  get(key: string): Promise<string | null> {
    return this.redis.get(this.prefix + key);
  }

  /** GETDEL (Redis >= 6.2): two Gateways logging out the same session cannot both read it. */
  take(key: string): Promise<string | null> {
    return this.redis.getdel(this.prefix + key);
  }
}

function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
