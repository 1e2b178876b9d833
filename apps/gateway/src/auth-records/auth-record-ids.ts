import { randomUUID } from 'node:crypto';

/** The last group of a UUID: 12 hex digits, 48 bits of sequence. */
const SEQUENCE_LIMIT = 2 ** 48;

/**
 * The records' ids (the sinks' idempotency key, a UUID column): a random UUID drawn when the
 * Gateway starts, its last 12 hex digits replaced by a sequence. Unique across Gateways and
 * restarts as the random part is (74 random bits per process, version and variant kept from
 * `randomUUID`), and one counter step per record instead of a UUID's formatting of 16 random
 * bytes; a record keeps its id when its batch is sent again.
 */
export class AuthRecordIds {
  private prefix = randomUUID().slice(0, 24);
  private sequence = 0;

  /** `limit`: ids per random prefix (the 48 bits of the last group; smaller only in tests). */
  constructor(private readonly limit = SEQUENCE_LIMIT) {}

  next(): string {
    if (this.sequence === this.limit) {
      this.prefix = randomUUID().slice(0, 24);
      this.sequence = 0;
    }
    return this.prefix + (this.sequence++).toString(16).padStart(12, '0');
  }
}
