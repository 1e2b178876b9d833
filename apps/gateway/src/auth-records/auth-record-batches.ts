/** One stream entry's worth of records: the JSON array's bytes, ready to send. */
export interface SealedBatch {
  readonly json: Buffer;
  readonly count: number;
}

/** Bytes a batch buffer starts with (500 records of ~600 bytes); it grows when a batch needs more. */
const INITIAL_BYTES = 512 * 1024;
/** Buffers of sent batches kept for reuse (at the flush rate a Gateway seals one or two per tick). */
const KEPT_FOR_REUSE = 4;

const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]

/**
 * The records a Gateway holds until Redis takes them, as the JSON text of the stream entries they
 * will be sent in, outside the JavaScript heap. Each record is serialized when it is reported and
 * its object is garbage at once; holding ~1,000 records a tick as objects (then one 300 KB
 * `JSON.stringify` of each batch, then ioredis' copy of it as a string) made the young-generation
 * collections of a Gateway with records on 4x as frequent per request and each slower (they copy
 * what is still alive): that, more than building or serializing the records, was what a record
 * cost the request path (bench/README.md, #17).
 */
export class AuthRecordBatches {
  private readonly sealed: SealedBatch[] = [];
  private readonly spare: Buffer[] = [];
  private open: Buffer | null = null;
  private openBytes = 0;
  private openCount = 0;
  private sealedCount = 0;

  constructor(private readonly recordsPerBatch: number) {}

  /** Records held (sealed and open). */
  get size(): number {
    return this.sealedCount + this.openCount;
  }

  /** Appends one record's JSON text (an object literal) to the open batch; seals it once full. */
  add(recordJson: string): void {
    const needed = Buffer.byteLength(recordJson) + 2; // a separator (or the '['), and room for the ']'
    if (this.open === null) {
      this.open = this.buffer(needed);
      this.open[0] = OPEN;
      this.openBytes = 1;
    } else {
      if (this.openBytes + needed > this.open.length) this.grow(needed);
      this.open[this.openBytes++] = COMMA;
    }
    this.openBytes += this.open.write(recordJson, this.openBytes);
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
    const open = this.open!;
    open[this.openBytes++] = CLOSE;
    this.sealed.push({ json: open.subarray(0, this.openBytes), count: this.openCount });
    this.sealedCount += this.openCount;
    this.open = null;
    this.openBytes = 0;
    this.openCount = 0;
  }

  private buffer(atLeast: number): Buffer {
    if (atLeast + 1 <= INITIAL_BYTES) return this.spare.pop() ?? Buffer.allocUnsafeSlow(INITIAL_BYTES);
    return Buffer.allocUnsafeSlow(atLeast + 1);
  }

  /** A batch of unusually long records: a larger buffer with what it holds. */
  private grow(needed: number): void {
    const larger = Buffer.allocUnsafeSlow(Math.max(this.open!.length * 2, this.openBytes + needed));
    this.open!.copy(larger, 0, 0, this.openBytes);
    this.open = larger;
  }
}
