import { authRecordEntryHead, authRecordEntryTail, authRecordRowJson, type AuthRecord, type AuthRecordEntryProxy } from '@idm/config-bus';

/** One stream entry's worth of records: its text's bytes (format 2, `@idm/config-bus` auth-record-entry), ready to send. */
export interface SealedBatch {
  readonly json: Buffer;
  readonly count: number;
}

/** Bytes a batch buffer starts with (500 records of ~600 bytes); it grows when a batch needs more. */
const INITIAL_BYTES = 512 * 1024;
/** Buffers of sent batches kept for reuse (at the flush rate a Gateway seals one or two per tick). */
const KEPT_FOR_REUSE = 4;

const COMMA = 0x2c;

/**
 * The records a Gateway holds until Redis takes them, as the text of the stream entries they
 * will be sent in, outside the JavaScript heap: an entry's head (the envelope with the fields its
 * records share), one row per record, and at the seal the proxies the rows index. Each record is
 * serialized when it is reported and its object is garbage at once; holding ~1,000 records a tick as objects (then one 300 KB
 * `JSON.stringify` of each batch, then ioredis' copy of it as a string) made the young-generation
 * collections of a Gateway with records on 4x as frequent per request and each slower (they copy
 * what is still alive): that, more than building or serializing the records, was what a record
 * cost the request path (bench/README.md, #17).
 */
export class AuthRecordBatches {
  private readonly sealed: SealedBatch[] = [];
  private readonly spare: Buffer[] = [];
  private open: Buffer | null = null;
  /** The open batch's envelope: a record of another environment or Gateway starts a batch of its own. */
  private openEnvironment = '';
  private openGateway = '';
  private openTime0 = 0;
  /** The proxies the open batch's rows index, the index of each proxy id's latest, and the last one used (most records in a row name the same). */
  private proxies: AuthRecordEntryProxy[] = [];
  private proxyAt = new Map<string | null, number>();
  private lastProxy = -1;
  private openBytes = 0;
  private openCount = 0;
  private sealedCount = 0;

  constructor(private readonly recordsPerBatch: number) {}

  /** Records held (sealed and open). */
  get size(): number {
    return this.sealedCount + this.openCount;
  }

  /**
   * Appends one record's row to the open batch (opening one with the record's environment,
   * Gateway and time as its envelope); seals it once full, or first when the record belongs to
   * another environment or Gateway (the Gateway's records all share them, so that is a test's case).
   */
  add(record: AuthRecord): void {
    if (this.open !== null && (record.environment !== this.openEnvironment || record.gatewayId !== this.openGateway)) this.seal();
    if (this.open === null) {
      const head = authRecordEntryHead(record.environment, record.gatewayId, record.time);
      this.open = this.buffer(Buffer.byteLength(head));
      this.openBytes = this.open.write(head, 0);
      this.openEnvironment = record.environment;
      this.openGateway = record.gatewayId;
      this.openTime0 = record.time;
    } else {
      this.ensure(1);
      this.open[this.openBytes++] = COMMA;
    }
    const row = authRecordRowJson(record, this.openTime0, this.proxyOf(record));
    this.ensure(row.length * 3); // at most 3 bytes per UTF-16 unit: no scan of the row for its exact length
    this.openBytes += this.open.write(row, this.openBytes);
    this.openCount++;
    if (this.openCount >= this.recordsPerBatch) this.seal();
  }

  /** The oldest batch to send, sealing the open one first when nothing else waits; null when empty. */
  next(): SealedBatch | null {
    if (this.sealed.length === 0 && this.openCount > 0) this.seal();
    return this.sealed[0] ?? null;
  }

  /** `next()`'s batch is done with (taken by Redis, or dropped and counted): its buffer is reused. */
  release(batch: SealedBatch): void {
    if (this.sealed[0] !== batch) return;
    this.sealed.shift();
    this.sealedCount -= batch.count;
    if (this.spare.length < KEPT_FOR_REUSE && batch.json.buffer.byteLength === INITIAL_BYTES) this.spare.push(Buffer.from(batch.json.buffer, 0, INITIAL_BYTES));
  }

  private seal(): void {
    const tail = authRecordEntryTail(this.proxies);
    this.ensure(Buffer.byteLength(tail));
    const open = this.open!;
    this.openBytes += open.write(tail, this.openBytes);
    this.sealed.push({ json: open.subarray(0, this.openBytes), count: this.openCount });
    this.sealedCount += this.openCount;
    this.open = null;
    this.proxies = [];
    this.proxyAt = new Map();
    this.lastProxy = -1;
    this.openBytes = 0;
    this.openCount = 0;
  }

  /** Index of the record's proxy (id, name, project) in the open batch's `proxies`, added when new. */
  private proxyOf(r: AuthRecord): number {
    const same = (at: number) => {
      const p = this.proxies[at];
      return p[0] === r.proxyId && p[1] === r.proxyName && p[2] === r.projectId;
    };
    if (this.lastProxy >= 0 && same(this.lastProxy)) return this.lastProxy;
    let at = this.proxyAt.get(r.proxyId) ?? -1;
    // Another name or project under the same id (renamed meanwhile, or the token endpoints' null proxy of several projects): the earlier ones first.
    if (at >= 0 && !same(at)) at = this.proxies.findIndex((_, i) => same(i));
    if (at < 0) {
      at = this.proxies.push([r.proxyId, r.proxyName, r.projectId]) - 1;
      this.proxyAt.set(r.proxyId, at);
    }
    this.lastProxy = at;
    return at;
  }

  private buffer(atLeast: number): Buffer {
    if (atLeast + 1 <= INITIAL_BYTES) return this.spare.pop() ?? Buffer.allocUnsafeSlow(INITIAL_BYTES);
    return Buffer.allocUnsafeSlow(atLeast + 1);
  }

  /** Room for `bytes` more in the open batch (a batch of unusually long records: a larger buffer with what it holds). */
  private ensure(bytes: number): void {
    const open = this.open!;
    if (this.openBytes + bytes <= open.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(open.length * 2, this.openBytes + bytes));
    open.copy(larger, 0, 0, this.openBytes);
    this.open = larger;
  }
}
