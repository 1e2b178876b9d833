import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { FixedWindowLeases, type Lease } from './fixed-window-leases';
import type { RateLimitCounter, RateLimitStore, RateLimitVerdict } from './rate-limit.store';

/**
 * How much of a fixed window Redis grants a Gateway at once: a 1/LEASE_DIVISOR share of what is
 * left, at most LEASE_MAX_BLOCK, at least 1. What a window can lose (admissions granted to a
 * Gateway whose traffic then goes elsewhere) is what the Gateways hold, so blocks are small
 * against what is left and shrink with it: below LEASE_DIVISOR left every grant is 1 and the tail
 * of the window is decided request by request in Redis, exactly. LEASE_MAX_BLOCK = 100 spares
 * 99 round trips of 100 under high limits, and caps what one grant can strand at 100 however
 * large the limit.
 */
const LEASE_DIVISOR = 16;
const LEASE_MAX_BLOCK = 100;

/**
 * KEYS: one per counter. ARGV: now, a unique member for sliding logs, the largest grant for fixed
 * counters, then per counter: limit, window (fixed: end of window, epoch ms; sliding: length,
 * ms), kind ("f" or "s"). Phase one only reads (after pruning expired log entries); phase two
 * counts in every counter, so a request refused by one limit is not charged to the others.
 * Redis runs a script alone, which is what makes check-then-count exact across Gateways.
 * Refused: {0, counter index, ms until it admits again}. Admitted: {1, then per counter: grant
 * (sliding: 1), what Redis has left after it}.
 */
const CONSUME_SCRIPT = `
local now = tonumber(ARGV[1])
local member = ARGV[2]
local maxBlock = tonumber(ARGV[3])
local used = {}
for i = 1, #KEYS do
  local base = 3 + (i - 1) * 3
  local limit = tonumber(ARGV[base + 1])
  local window = tonumber(ARGV[base + 2])
  if ARGV[base + 3] == 's' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    used[i] = redis.call('ZCARD', KEYS[i])
    if used[i] >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i], 0, used[i] - limit, 'WITHSCORES')
      return {0, i - 1, math.max(tonumber(oldest[#oldest]) + window - now, 1)}
    end
  else
    used[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
    if used[i] >= limit then return {0, i - 1, math.max(window - now, 1)} end
  end
end
local reply = {1}
for i = 1, #KEYS do
  local base = 3 + (i - 1) * 3
  local left = tonumber(ARGV[base + 1]) - used[i]
  local window = tonumber(ARGV[base + 2])
  local grant = 1
  if ARGV[base + 3] == 's' then
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], window + 1000)
  else
    grant = math.min(left, math.max(1, math.min(maxBlock, math.floor(left / ${LEASE_DIVISOR}))))
    redis.call('INCRBY', KEYS[i], grant)
    -- Relative expiry: immune to clock differences between Gateways and Redis.
    if used[i] == 0 then redis.call('PEXPIRE', KEYS[i], math.max(window - now, 0) + 1000) end
  end
  reply[#reply + 1] = grant
  reply[#reply + 1] = left - grant
end
return reply
`;

type ConsumeCommand = (...args: (string | number)[]) => Promise<number[]>;

/**
 * Rate-limit counters in Redis, one store per Gateway. Fixed windows and quotas are served from
 * leases: Redis grants this Gateway a block of admissions (counted there at once), and the
 * Gateway admits from it without a round trip; a counter Redis reported used up is refused
 * locally until its window ends. Exact across Gateways: Redis never grants more than the limit,
 * and a Gateway never admits more than it was granted. Sliding windows are asked of Redis for
 * every request: a lease spent later would log admissions at times the log never saw, and the
 * window would drift.
 *
 * A request that needs Redis (a sliding counter, or a fixed one whose lease is used up) makes
 * one EVALSHA (ioredis loads the script on NOSCRIPT) carrying only those counters. Meant for a
 * connection without an offline queue, so while Redis is away such a request fails fast and the
 * policy's fail-open/fail-closed rule decides; requests covered by a lease are still admitted
 * (their capacity was reserved while Redis was up).
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly instance = randomBytes(6).toString('base64url');
  private sequence = 0;
  private readonly leases = new FixedWindowLeases();

  constructor(
    private readonly redis: Redis,
    /** Prepended to every key, e.g. "idm:rl:<environment>:". */
    private readonly prefix = 'idm:rl:',
  ) {
    if (!(redis as unknown as { idmConsumeRateLimit?: unknown }).idmConsumeRateLimit) {
      redis.defineCommand('idmConsumeRateLimit', { lua: CONSUME_SCRIPT });
    }
  }

  consume(counters: readonly RateLimitCounter[], now: number): RateLimitVerdict | Promise<RateLimitVerdict> {
    // A request with a sliding counter goes to Redis anyway, so a lease would save it nothing:
    // its fixed counters are counted one by one there (exact, nothing held back).
    const exact = counters.some((c) => c.sliding);
    const held = new Array<Lease | undefined>(counters.length);
    let remote = 0;
    for (let i = 0; i < counters.length; i++) {
      const c = counters[i];
      const lease = c.sliding ? undefined : this.leases.find(c.key, c.limit);
      if (lease !== undefined && lease.left === 0 && lease.redisRemaining === 0) return refused(i, c.window - now);
      if (lease !== undefined && lease.left > 0 && !exact) held[i] = lease;
      else remote++;
    }
    // Taken before any await, so concurrent requests never spend the same admission.
    for (const lease of held) if (lease !== undefined) lease.left--;
    if (remote === 0) return admitted(counters, held, null, now);
    return this.ask(counters, held, exact, now);
  }

  /** One round trip for the counters `held` does not cover; gives back what it took on a refusal or error. */
  private async ask(counters: readonly RateLimitCounter[], held: (Lease | undefined)[], exact: boolean, now: number): Promise<RateLimitVerdict> {
    const remote: number[] = [];
    for (let i = 0; i < counters.length; i++) if (held[i] === undefined) remote.push(i);
    const args: (string | number)[] = [remote.length];
    for (const i of remote) args.push(this.prefix + counters[i].key);
    // Unique per admission across processes: sliding logs are sorted sets of members.
    args.push(now, `${now}:${this.instance}:${this.sequence++}`, exact ? 1 : LEASE_MAX_BLOCK);
    for (const i of remote) args.push(counters[i].limit, counters[i].window, counters[i].sliding ? 's' : 'f');
    let reply: number[];
    try {
      reply = await (this.redis as unknown as { idmConsumeRateLimit: ConsumeCommand }).idmConsumeRateLimit(...args);
    } catch (err) {
      giveBack(held);
      throw err;
    }
    if (reply[0] === 0) return this.refusedByRedis(counters, held, remote, remote[reply[1]], reply[2], exact, now);
    const slidingRemaining: number[] = [];
    remote.forEach((i, k) => {
      const c = counters[i];
      if (c.sliding) slidingRemaining[i] = reply[2 + 2 * k];
      else held[i] = this.leases.granted(c.key, c.limit, c.window, reply[1 + 2 * k], reply[2 + 2 * k], now);
    });
    return admitted(counters, held, slidingRemaining, now);
  }

  /**
   * Redis refused counter `index`. Answers to this Gateway's earlier requests may have brought
   * leases meanwhile (a burst sends many requests before the first grant is back): when they now
   * cover every counter this request asked Redis for, it is admitted from them, so granted
   * capacity is spent rather than stranded.
   */
  private refusedByRedis(
    counters: readonly RateLimitCounter[],
    held: (Lease | undefined)[],
    remote: readonly number[],
    index: number,
    resetMs: number,
    exact: boolean,
    now: number,
  ): RateLimitVerdict {
    const c = counters[index];
    if (!c.sliding) this.leases.exhausted(c.key, c.limit, c.window, now);
    const leases = exact ? [] : remote.map((i) => this.leases.find(counters[i].key, counters[i].limit));
    if (exact || leases.some((lease) => lease === undefined || lease.left === 0)) {
      giveBack(held);
      // Never past the window: a sliding log's oldest admission may be stamped by another
      // Gateway's clock after this request's `now` (it arrived later, reached Redis first).
      return refused(index, Math.min(resetMs, c.window));
    }
    remote.forEach((i, k) => {
      held[i] = leases[k];
      leases[k]!.left--;
    });
    return admitted(counters, held, null, now);
  }
}

function refused(index: number, resetMs: number): RateLimitVerdict {
  return { allowed: false, index, remaining: 0, resetMs: Math.max(resetMs, 1) };
}

/**
 * Reports the counter with the fewest requests left. For a fixed counter that is Redis' last
 * remaining plus this Gateway's lease: an estimate, since other Gateways hold leases too.
 */
function admitted(counters: readonly RateLimitCounter[], held: readonly (Lease | undefined)[], slidingRemaining: readonly number[] | null, now: number): RateLimitVerdict {
  let index = 0;
  let remaining = Infinity;
  for (let i = 0; i < counters.length; i++) {
    const lease = held[i];
    const left = lease === undefined ? slidingRemaining![i] : lease.redisRemaining + lease.left;
    if (left < remaining) {
      index = i;
      remaining = left;
    }
  }
  const c = counters[index];
  return { allowed: true, index, remaining, resetMs: c.sliding ? c.window : Math.max(c.window - now, 0) };
}

function giveBack(held: readonly (Lease | undefined)[]): void {
  for (const lease of held) if (lease !== undefined) lease.left++;
}
