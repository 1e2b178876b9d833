import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { TokenStoreUnavailable } from '../token-store-unavailable';

/**
 * The `jti` of every accepted DPoP proof, kept in Redis for as long as its `iat` window could
 * still admit it, so a proof replayed on any Gateway of the environment is refused (RFC 9449
 * §11.1). One `SET NX PX` per proof; the key is a hash of key thumbprint and jti, so a client
 * cannot collide with another client's proofs. Redis failures surface as TokenStoreUnavailable
 * (fail closed: an unchecked proof is never accepted).
 */
export class DpopReplayCache {
  constructor(
    private readonly redis: Redis,
    /** e.g. `{idm:dpop:<env>}`; the hash tag keeps an environment's keys on one Cluster slot. */
    private readonly keyPrefix: string,
  ) {}

  /** True when this proof is seen for the first time; `keepSeconds` covers the proof's remaining acceptance window. */
  async firstUse(jkt: string, jti: string, keepSeconds: number): Promise<boolean> {
    const key = `${this.keyPrefix}:jti:${createHash('sha256').update(`${jkt}:${jti}`).digest('base64url')}`;
    let reply: string | null;
    try {
      reply = await this.redis.set(key, '1', 'EX', Math.max(1, Math.ceil(keepSeconds)), 'NX');
    } catch (err) {
      throw new TokenStoreUnavailable(err);
    }
    return reply === 'OK';
  }
}
