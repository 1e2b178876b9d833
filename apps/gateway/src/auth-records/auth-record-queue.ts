import { AUTH_RECORDS_BATCH_FIELD, AUTH_RECORDS_LIVE_CHANNEL, AUTH_RECORDS_QUEUED_KEY, AUTH_RECORDS_STREAM, settledWithin, type AuthRecord } from '@idm/config-bus';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { AuthRecordBatches } from './auth-record-batches';
import type { AuthRecordListener } from './auth-recorder';

/** Records per stream entry: one XADD, one JSON parse on the indexer. */
export const AUTH_RECORD_BATCH = 500;

/**
 * Queues the count of records, appends the batch to the stream and publishes it to the live
 * tail, in one step; refuses (0) when the stream already holds `limit` records not yet indexed,
 * so an indexer outage bounds Redis memory as the buffer bounds ours.
 */
const ENQUEUE = `
local queued = tonumber(redis.call('GET', KEYS[2]) or '0')
if queued + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('XADD', KEYS[1], '*', '${AUTH_RECORDS_BATCH_FIELD}', ARGV[3])
redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 1`;

export interface AuthRecordQueueSettings {
  /** Records the stream may hold not yet indexed; past it new batches are dropped (counted). */
  queueLimit: number;
  /** Records this Gateway holds in memory while Redis cannot take them; past it new ones are dropped (counted). */
  bufferLimit: number;
  flushIntervalMs: number;
}

export interface AuthRecordQueueCounters {
  queued(count: number): void;
  dropped(reason: 'queue_full' | 'buffer_full', count: number): void;
}

type EnqueueRedis = Redis & { idmEnqueueAuthRecords(stream: string, queued: string, limit: number, count: number, batch: Buffer, channel: string): Promise<number> };

/**
 * The durable path of the auth records: the request path only serializes the record (a
 * positional row, format 2 of `@idm/config-bus` auth-record-entry) into the open batch (the listener; `AuthRecordBatches`, outside the JavaScript heap); a timer sends the
 * batches to the Redis stream the indexers consume, as the JSON text they were written in. While
 * Redis is away the batches keep what they can (bounded) and the next tick retries; a batch whose
 * fate is unknown (a timeout) is sent again, the same bytes, which the sinks absorb (records carry
 * their id).
 */
export class AuthRecordQueue {
  private readonly pending = new AuthRecordBatches(AUTH_RECORD_BATCH);
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastWarning = 0;
  private readonly redis: EnqueueRedis;

  constructor(
    redis: Redis,
    private readonly settings: AuthRecordQueueSettings,
    private readonly counters: AuthRecordQueueCounters,
    private readonly log: Logger,
  ) {
    this.redis = redis as EnqueueRedis;
    if (typeof this.redis.idmEnqueueAuthRecords !== 'function') this.redis.defineCommand('idmEnqueueAuthRecords', { numberOfKeys: 2, lua: ENQUEUE });
  }

  readonly listener: AuthRecordListener = (record: AuthRecord) => {
    if (this.pending.size >= this.settings.bufferLimit) {
      this.counters.dropped('buffer_full', 1);
      return;
    }
    this.pending.add(record);
  };

  /** Records waiting in memory. */
  get buffered(): number {
    return this.pending.size;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.settings.flushIntervalMs).unref();
  }

  /** Sends what is buffered; one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /** Stops the timer and sends what is left (bounded by `timeoutMs`: a dead Redis must not hold the shutdown). */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await settledWithin(this.flush(), timeoutMs);
  }

  private async drain(): Promise<void> {
    for (let batch = this.pending.next(); batch !== null; batch = this.pending.next()) {
      let accepted: number;
      try {
        accepted = await this.redis.idmEnqueueAuthRecords(
          AUTH_RECORDS_STREAM,
          AUTH_RECORDS_QUEUED_KEY,
          this.settings.queueLimit,
          batch.count,
          batch.json,
          AUTH_RECORDS_LIVE_CHANNEL,
        );
      } catch (err) {
        // Kept, in order, for the next tick.
        this.warn('auth records cannot reach Redis; kept in memory and retried', err);
        return;
      }
      this.pending.release(batch);
      if (accepted === 1) this.counters.queued(batch.count);
      else {
        this.counters.dropped('queue_full', batch.count);
        this.warn('auth record queue is full (indexers behind or down); records dropped', null);
      }
    }
  }

  private warn(message: string, err: unknown): void {
    if (Date.now() - this.lastWarning < 10_000) return;
    this.lastWarning = Date.now();
    this.log.warn({ ...(err !== null && { err: { message: (err as Error)?.message } }), buffered: this.pending.size }, message);
  }
}
