import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/** A Lua script run by SHA (EVALSHA), loaded with EVAL the first time a server does not know it. */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      // NOSCRIPT is Redis's stable error code for an unknown SHA (after a restart or SCRIPT FLUSH).
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
