import type { AuthRecord } from '@idm/config-bus';

/**
 * Where the indexer writes. `write` is idempotent by record id (a redelivered record is stored
 * once) and resolves only when the records are durable there; it throws when the sink cannot take
 * them now (the indexer keeps the entries unacknowledged and retries).
 */
export interface AuthRecordSink {
  readonly name: string;
  /** Creates what the sink needs (tables, templates, policies); idempotent, safe with several indexers. */
  prepare(): Promise<void>;
  /**
   * `json`, when given, is the same records as one JSON array in the text they were queued in
   * (validated; an id may appear more than once): a sink that sends JSON may send it as it is.
   */
  write(records: readonly AuthRecord[], json?: string): Promise<void>;
  /** Drops what is older than the retention (PostgreSQL partitions; Elasticsearch's ILM does its own). */
  applyRetention(now: number): Promise<void>;
  close(): Promise<void>;
}
