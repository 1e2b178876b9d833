import type Redis from 'ioredis';
import type { TokenCounter, TokenQuotaStore, TokenReservation } from './token-quota.store';

/**
 * KEYS: one per counter. ARGV: tokens, now, then per counter: limit, window end (epoch ms).
 * Checks every counter before counting in any (Redis runs a script alone: exact across
 * Gateways). Refused: {0, counter index, tokens left}. Admitted: {1}.
 */
const RESERVE_SCRIPT = `
local tokens = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + 2 * i])
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= limit or used + tokens > limit then return {0, i - 1, math.max(limit - used, 0)} end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], tokens)
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], math.max(tonumber(ARGV[2 + 2 * i]) - now, 0) + 1000) end
end
return {1}
`;

/**
 * KEYS: the counters a call reserved in. ARGV: delta. A counter that expired meanwhile (the
 * call outlived its window) is not brought back: INCRBY would recreate it without expiry.
 */
const SETTLE_SCRIPT = `
local delta = tonumber(ARGV[1])
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], delta) end
end
return 1
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

/**
 * LLM token counters in Redis, one store per Gateway, under the prefix of the rate-limit
 * counters (same connection, same hash tag, so one Cluster slot per environment). No leases:
 * a call's cost is known only after it, so each call reserves and settles in Redis (two round
 * trips, small next to an LLM call).
 */
export class RedisTokenQuotaStore implements TokenQuotaStore {
  constructor(
    private readonly redis: Redis,
    /** Prepended to every key, e.g. "{idm:rl:<environment>}:". */
    private readonly prefix: string,
  ) {
    const commands = redis as unknown as Record<string, unknown>;
    if (!commands.idmReserveTokens) redis.defineCommand('idmReserveTokens', { lua: RESERVE_SCRIPT });
    if (!commands.idmSettleTokens) redis.defineCommand('idmSettleTokens', { lua: SETTLE_SCRIPT });
  }

  async reserve(counters: readonly TokenCounter[], tokens: number, now: number): Promise<TokenReservation> {
    const args: (string | number)[] = [counters.length, ...counters.map((c) => this.prefix + c.key), tokens, now];
    for (const c of counters) args.push(c.limit, c.windowEnd);
    const reply = (await (this.redis as unknown as { idmReserveTokens: Script }).idmReserveTokens(...args)) as number[];
    return reply[0] === 1 ? { admitted: true } : { admitted: false, index: reply[1], left: reply[2] };
  }

  async settle(counters: readonly TokenCounter[], delta: number): Promise<void> {
    if (delta === 0 || counters.length === 0) return;
    await (this.redis as unknown as { idmSettleTokens: Script }).idmSettleTokens(counters.length, ...counters.map((c) => this.prefix + c.key), delta);
  }
}
