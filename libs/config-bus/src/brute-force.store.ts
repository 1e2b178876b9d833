import type Redis from 'ioredis';
import { blockIdOf, blockKey, bruteForceBlockSchema, bruteForceKeys, type BruteForceBlock, type BruteForceDetector, type BruteForceKeys } from './brute-force-block';

/** The detectors of an environment: failures per subject in a window, then a lockout that doubles on each repeat. */
export interface BruteForceSettings {
  /** Failures per credential (from any address) per window; 0 turns the detector off. */
  perCredential: number;
  /** Failures per client address (across credentials, API keys included) per window; 0: off. */
  perAddress: number;
  /** Failures per credential from one address per window; 0: off. */
  perCredentialAddress: number;
  windowSeconds: number;
  /** The first lockout; each further one within the strike memory lasts twice as long as the last. */
  lockoutSeconds: number;
  maxLockoutSeconds: number;
  /** How long after a lockout ends the next one still counts as a repeat. */
  strikeMemorySeconds: number;
}

/** One failed authentication, as the detectors count it. */
export interface FailedAttempt {
  /** What was guessed at; null when nothing names a credential (a wrong API key counts per address only). */
  credential: { key: string; label: string; projectId: string | null } | null;
  address: string;
  /** `proxy`, or the token surface (`credential`, `auth`). */
  source: string;
}

export interface DetectorSubject {
  detector: BruteForceDetector;
  key: string;
  threshold: number;
}

/** The detector subjects an attempt counts against (the enabled detectors only), in a fixed order. */
export function detectorSubjects(attempt: Pick<FailedAttempt, 'credential' | 'address'>, settings: BruteForceSettings): DetectorSubject[] {
  const subjects: DetectorSubject[] = [];
  const credential = attempt.credential?.key;
  if (credential !== undefined && settings.perCredential > 0) subjects.push({ detector: 'credential', key: blockKey('credential', credential), threshold: settings.perCredential });
  if (settings.perAddress > 0) subjects.push({ detector: 'address', key: blockKey('address', attempt.address), threshold: settings.perAddress });
  if (credential !== undefined && settings.perCredentialAddress > 0) {
    subjects.push({ detector: 'credential-address', key: blockKey('credential-address', `${credential}\u0000${attempt.address}`), threshold: settings.perCredentialAddress });
  }
  return subjects;
}

// KEYS: blocks, until, then per detector its counter and strike keys.
// ARGV: now, window ms, lockout ms, max lockout ms, strike memory ms, channel, source, then per detector
// id, key, threshold, detector, credential label, project id, address ('' for none).
// Counts the failure for every detector; one that reaches its threshold starts a block (its counter
// restarts), stored, published, and returned. Ended blocks are pruned on the way.
const RECORD_FAILURE = `
local now = tonumber(ARGV[1])
local window, base, max, memory = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local channel, source = ARGV[6], ARGV[7]
local ended = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(ended) do redis.call('HDEL', KEYS[1], id) end
if #ended > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local function nullable(v) if v == '' then return cjson.null end return v end
local created = {}
local d = 0
for a = 8, #ARGV, 7 do
  d = d + 1
  local id, key, threshold = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local counter, strikes = KEYS[1 + 2 * d], KEYS[2 + 2 * d]
  local n = redis.call('INCR', counter)
  if n == 1 then redis.call('PEXPIRE', counter, window) end
  if n >= threshold then
    redis.call('DEL', counter)
    local strike = redis.call('INCR', strikes)
    local lock = math.min(base * 2 ^ (strike - 1), max)
    local untilMs = now + lock
    redis.call('PEXPIRE', strikes, lock + memory)
    local block = cjson.encode({ id = id, detector = ARGV[a + 3], key = key, credential = nullable(ARGV[a + 4]), projectId = nullable(ARGV[a + 5]),
      address = nullable(ARGV[a + 6]), source = source, failures = n, strike = strike, blockedAt = now, ['until'] = untilMs })
    redis.call('HSET', KEYS[1], id, block)
    redis.call('ZADD', KEYS[2], untilMs, id)
    redis.call('PUBLISH', channel, '{"block":' .. block .. '}')
    created[#created + 1] = block
  end
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[1], last[2])
  redis.call('PEXPIREAT', KEYS[2], last[2])
end
return created
`;

// KEYS: blocks, until, counter, strikes of the block; ARGV: id, channel. An admin's lift forgives
// the subject: its count and strikes go too. Returns the lifted block's JSON, or false.
const LIFT = `
local block = redis.call('HGET', KEYS[1], ARGV[1])
if not block then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('PUBLISH', ARGV[2], cjson.encode({ lift = { id = ARGV[1], key = cjson.decode(block).key } }))
return block
`;

/**
 * The brute-force counters and blocks of one environment in Redis: the Gateways record failures
 * (one script per failure, so a threshold is crossed exactly once across all Gateways), the
 * Manager lists and lifts blocks. Neither keeps state of its own here.
 */
export class BruteForceStore {
  private readonly keys: BruteForceKeys;

  constructor(
    private readonly redis: Redis,
    environment: string,
  ) {
    this.keys = bruteForceKeys(environment);
  }

  get channel(): string {
    return this.keys.events;
  }

  /** Counts one failure against every enabled detector; returns the blocks it started (usually none). */
  async recordFailure(attempt: FailedAttempt, settings: BruteForceSettings, now: number): Promise<BruteForceBlock[]> {
    const subjects = detectorSubjects(attempt, settings);
    if (subjects.length === 0) return [];
    const keys = [this.keys.blocks, this.keys.until];
    const args: (string | number)[] = [
      now,
      settings.windowSeconds * 1000,
      settings.lockoutSeconds * 1000,
      settings.maxLockoutSeconds * 1000,
      settings.strikeMemorySeconds * 1000,
      this.keys.events,
      attempt.source,
    ];
    for (const s of subjects) {
      const id = blockIdOf(s.key);
      keys.push(`${this.keys.prefix}:n:${id}`, `${this.keys.prefix}:s:${id}`);
      const credential = s.detector === 'address' ? null : attempt.credential;
      args.push(id, s.key, s.threshold, s.detector, credential?.label ?? '', credential?.projectId ?? '', s.detector === 'credential' ? '' : attempt.address);
    }
    const created = (await this.redis.eval(RECORD_FAILURE, keys.length, ...keys, ...args)) as string[];
    return created.map((json) => bruteForceBlockSchema.parse(JSON.parse(json)));
  }

  /** The blocks in force at `now`, latest first. A stored entry that does not parse is skipped. */
  async list(now: number): Promise<BruteForceBlock[]> {
    const stored = await this.redis.hvals(this.keys.blocks);
    const blocks: BruteForceBlock[] = [];
    for (const json of stored) {
      const parsed = bruteForceBlockSchema.safeParse(safeJson(json));
      if (parsed.success && parsed.data.until > now) blocks.push(parsed.data);
    }
    return blocks.sort((a, b) => b.blockedAt - a.blockedAt || a.id.localeCompare(b.id));
  }

  /** Lifts a block on every Gateway and forgives its subject; returns what was lifted, or null for an unknown id. */
  async lift(id: string): Promise<BruteForceBlock | null> {
    const prefix = this.keys.prefix;
    const json = (await this.redis.eval(LIFT, 4, this.keys.blocks, this.keys.until, `${prefix}:n:${id}`, `${prefix}:s:${id}`, id, this.keys.events)) as string | null;
    if (json === null) return null;
    const parsed = bruteForceBlockSchema.safeParse(safeJson(json));
    return parsed.success ? parsed.data : null;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
