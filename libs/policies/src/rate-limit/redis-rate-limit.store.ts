import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { RateLimitCounter, RateLimitStore, RateLimitVerdict } from './rate-limit.store';

/**
 * KEYS: one per counter. ARGV: now, a unique member for sliding logs, then per counter: limit,
 * window (fixed: end of window, epoch ms; sliding: length, ms), kind ("f" or "s").
 * Phase one only reads (after pruning expired log entries); phase two counts in every counter,
 * so a request refused by one limit is not charged to the others. Redis runs a script alone,
 * which is what makes check-then-count exact across Gateways.
 */
const CONSUME_SCRIPT = `
local now = tonumber(ARGV[1])
local member = ARGV[2]
local best, bestRemaining, bestReset = 1, nil, 0
for i = 1, #KEYS do
  local base = 2 + (i - 1) * 3
  local limit = tonumber(ARGV[base + 1])
  local window = tonumber(ARGV[base + 2])
  local used, reset
  if ARGV[base + 3] == 's' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    used = redis.call('ZCARD', KEYS[i])
    reset = window
    if used >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i], 0, used - limit, 'WITHSCORES')
      reset = tonumber(oldest[#oldest]) + window - now
    end
  else
    used = tonumber(redis.call('GET', KEYS[i]) or '0')
    reset = window - now
  end
  if used >= limit then return {0, i - 1, 0, math.max(reset, 1)} end
  local remaining = limit - used - 1
  if bestRemaining == nil or remaining < bestRemaining then best, bestRemaining, bestReset = i, remaining, reset end
end
for i = 1, #KEYS do
  local base = 2 + (i - 1) * 3
  local window = tonumber(ARGV[base + 2])
  if ARGV[base + 3] == 's' then
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], window + 1000)
  else
    -- Relative expiry: immune to clock differences between Gateways and Redis.
    if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], math.max(window - now, 0) + 1000) end
  end
end
return {1, best - 1, bestRemaining or 0, math.max(bestReset, 0)}
`;

type ConsumeCommand = (...args: (string | number)[]) => Promise<[number, number, number, number]>;

/**
 * Rate-limit counters in Redis: one EVALSHA per request (ioredis loads the script on NOSCRIPT).
 * Meant for a connection without an offline queue, so a request fails fast while Redis is
 * away and the policy's fail-open/fail-closed rule decides.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly instance = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(
    private readonly redis: Redis,
    /** Prepended to every key, e.g. "idm:rl:<environment>:". */
    private readonly prefix = 'idm:rl:',
  ) {
    if (!(redis as unknown as { idmConsumeRateLimit?: unknown }).idmConsumeRateLimit) {
      redis.defineCommand('idmConsumeRateLimit', { lua: CONSUME_SCRIPT });
    }
  }

  async consume(counters: readonly RateLimitCounter[], now: number): Promise<RateLimitVerdict> {
    const args: (string | number)[] = [counters.length];
    for (const c of counters) args.push(this.prefix + c.key);
    // Unique per admission across processes: sliding logs are sorted sets of members.
    args.push(now, `${now}:${this.instance}:${this.sequence++}`);
    for (const c of counters) args.push(c.limit, c.window, c.sliding ? 's' : 'f');
    const [allowed, index, remaining, resetMs] = await (this.redis as unknown as { idmConsumeRateLimit: ConsumeCommand }).idmConsumeRateLimit(...args);
    return { allowed: allowed === 1, index, remaining, resetMs };
  }
}
