import {
  AUTH_RECORDS_BATCH_FIELD,
  AUTH_RECORDS_GROUP,
  AUTH_RECORDS_QUEUED_KEY,
  AUTH_RECORDS_STREAM,
  authRecordEntryCount,
  authRecordEntrySchema,
  refusalReason,
  type AuthRecord,
} from '@idm/config-bus';
import type Redis from 'ioredis';
import type { AuthRecordSink } from './auth-record-sink';

/** What the consumer logs through: pino in the indexer app, an adapter of Nest's logger in the Manager. */
export interface ConsumerLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * Acknowledges entries, deletes them from the stream and takes their records off the queue's
 * count, each entry once: when two indexers both wrote an entry (one was taken over while slow),
 * only the first acknowledgement counts, so the Gateways' bound stays exact.
 */
const ACKNOWLEDGE = `
local done = 0
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    done = done + tonumber(ARGV[i + 1])
  end
end
if done > 0 then redis.call('DECRBY', KEYS[2], done) end
return done`;

type StreamEntry = [id: string, fields: string[]];
type AckRedis = Redis & { idmAcknowledgeAuthRecords(stream: string, queued: string, group: string, ...idsAndCounts: (string | number)[]): Promise<number> };

export interface ConsumerSettings {
  consumer: string;
  readCount: number;
  claimIdleMs: number;
  /**
   * Reads being written to the sink at once (default 1). Each is acknowledged only once its own
   * write committed, so a crash loses none of them; with more than one, the next read is fetched
   * and parsed while the database writes the last (on this machine one indexer's wall time was
   * mostly spent waiting on PostgreSQL).
   */
  inFlight?: number;
  /** Wait between attempts while Redis or the sink is down. */
  retryDelayMs?: number;
  /** How long one read waits for new entries. */
  blockMs?: number;
}

/**
 * One indexer's loop over the stream (consumer group `indexers`): entries a dead indexer left
 * unacknowledged are taken over first, then new ones are read; their records are written to the
 * sink (idempotent by id) and only then acknowledged, up to `inFlight` reads at once, each
 * acknowledged on its own. A crash between write and acknowledgement redelivers the entries
 * (written again, stored once); a sink or Redis outage holds the loop, losing nothing.
 */
export class AuthRecordConsumer {
  private stopped = false;
  private readonly redis: AckRedis;
  /** Records written since start (for the log and tests). */
  indexed = 0;

  constructor(
    redis: Redis,
    private readonly sink: AuthRecordSink,
    private readonly settings: ConsumerSettings,
    private readonly log: ConsumerLog,
  ) {
    this.redis = redis as AckRedis;
    this.redis.defineCommand('idmAcknowledgeAuthRecords', { numberOfKeys: 2, lua: ACKNOWLEDGE });
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const inFlight = Math.max(1, this.settings.inFlight ?? 1);
    const writes = new Set<Promise<void>>();
    // After a restart under the same name, what this consumer had read first: its pending
    // entries, page after page (an id reads the pending ones after it).
    let ownPendingAfter: string | null = '0';
    while (!this.stopped) {
      try {
        if (this.failure !== null) {
          const failure = this.failure;
          this.failure = null;
          throw failure;
        }
        await this.ensureGroup();
        if (writes.size >= inFlight) {
          await Promise.race(writes);
          continue;
        }
        let entries: StreamEntry[];
        if (ownPendingAfter !== null) {
          entries = (await this.read(ownPendingAfter, false)).filter(([id]) => !this.writing.has(id));
          ownPendingAfter = entries.length === 0 ? null : entries[entries.length - 1][0];
        } else {
          // Blocking only when nothing is being written: the reply would hold up their acknowledgements on this connection.
          entries = (await this.takeOver()) ?? (await this.read('>', writes.size === 0));
        }
        if (entries.length > 0) this.startWrite(writes, entries);
        else if (writes.size > 0) await Promise.race(writes);
      } catch (err) {
        this.log.warn({ err: { message: (err as Error).message } }, 'auth record indexing paused; retrying');
        await this.pause();
      }
    }
    await Promise.all(writes);
  }

  /** Ids of the entries being written now: a takeover must not hand them to this consumer twice. */
  private readonly writing = new Set<string>();
  /** What a write in flight failed with (Redis gone before its acknowledgement): the loop pauses on it. */
  private failure: Error | null = null;

  private startWrite(writes: Set<Promise<void>>, entries: StreamEntry[]): void {
    for (const [id] of entries) this.writing.add(id);
    const write: Promise<void> = this.index(entries)
      .catch((err: unknown) => {
        // Left unacknowledged: taken over after the idle time, by this consumer or another.
        this.failure ??= err as Error;
      })
      .finally(() => {
        for (const [id] of entries) this.writing.delete(id);
        writes.delete(write);
      });
    writes.add(write);
  }

  private groupReady = false;
  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      // From the stream's start: what Gateways queued before the first indexer ever ran is indexed too.
      await this.redis.xgroup('CREATE', AUTH_RECORDS_STREAM, AUTH_RECORDS_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
    this.groupReady = true;
  }

  private async read(from: string, block: boolean): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', AUTH_RECORDS_GROUP, this.settings.consumer, 'COUNT', this.settings.readCount];
    if (block) args.push('BLOCK', this.settings.blockMs ?? 1_000);
    args.push('STREAMS', AUTH_RECORDS_STREAM, from);
    // The typed command (its overloads do not take a spread): `call` reshapes the reply of a single stream.
    const xreadgroup = this.redis.xreadgroup.bind(this.redis) as unknown as (...a: (string | number)[]) => Promise<[string, StreamEntry[]][] | null>;
    const reply = await xreadgroup(...args);
    return reply?.[0]?.[1] ?? [];
  }

  /** Entries another consumer read and left unacknowledged past the idle time; null when there are none. */
  private async takeOver(): Promise<StreamEntry[] | null> {
    const reply = (await this.redis.xautoclaim(
      AUTH_RECORDS_STREAM,
      AUTH_RECORDS_GROUP,
      this.settings.consumer,
      this.settings.claimIdleMs,
      '0-0',
      'COUNT',
      this.settings.readCount,
    )) as [string, StreamEntry[]];
    const entries = reply[1].filter((entry) => entry !== null && Array.isArray(entry[1]) && !this.writing.has(entry[0]));
    return entries.length > 0 ? entries : null;
  }

  private async index(entries: StreamEntry[]): Promise<void> {
    const byId = new Map<string, AuthRecord>();
    // The records as one JSON array of objects, for a sink that takes JSON (PostgreSQL's
    // json_to_recordset): a format 1 entry's own text is that already and goes as it came; a
    // format 2 entry (rows without keys, what Gateways write now) is serialized from its
    // validated records. Ids may repeat; the sink's idempotency absorbs them as it absorbs
    // redeliveries.
    const arrays: string[] = [];
    const counts: (string | number)[] = [];
    for (const [id, fields] of entries) {
      const { batch, text, count } = this.recordsOf(id, fields);
      for (const record of batch) byId.set(record.id, record);
      if (batch.length > 0) arrays.push(text !== null ? text.trim().slice(1, -1) : JSON.stringify(batch).slice(1, -1));
      counts.push(id, count);
    }
    const records = [...byId.values()];
    const json = `[${arrays.join(',')}]`;
    while (records.length > 0) {
      try {
        await this.sink.write(records, json);
        break;
      } catch (err) {
        if (this.stopped) return; // unacknowledged: the next indexer takes them over
        this.log.warn({ err: { message: (err as Error).message }, sink: this.sink.name, records: records.length }, 'sink refused auth records; retrying');
        await this.pause();
      }
    }
    await this.redis.idmAcknowledgeAuthRecords(AUTH_RECORDS_STREAM, AUTH_RECORDS_QUEUED_KEY, AUTH_RECORDS_GROUP, ...counts);
    this.indexed += records.length;
  }

  /**
   * An entry's records (either format), `text` when the entry is a JSON array of record objects
   * (format 1), and `count`: what the Gateway counted in for it, also when it turned out
   * malformed. A malformed entry is logged and acknowledged: no retry can fix it, and it must not
   * block the stream.
   */
  private recordsOf(id: string, fields: string[]): { batch: AuthRecord[]; text: string | null; count: number } {
    const at = fields.indexOf(AUTH_RECORDS_BATCH_FIELD);
    const text = at >= 0 && at % 2 === 0 ? fields[at + 1] : '';
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const parsed = authRecordEntrySchema.safeParse(value);
    if (parsed.success) return { batch: parsed.data, text: Array.isArray(value) ? text : null, count: parsed.data.length };
    this.log.error({ entry: id, reason: value === undefined ? 'not JSON' : refusalReason(parsed.error) }, 'malformed auth record entry dropped');
    return { batch: [], text: null, count: authRecordEntryCount(value) };
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.settings.retryDelayMs ?? 500));
  }
}
