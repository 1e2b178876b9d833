import type { AuthRecordWindow } from '../repositories/auth-record.repository';
import type { AuthRecordScope } from './auth-record-visibility';

export type { AuthRecordWindow };
type Row = Record<string, unknown>;

/** The answers of one analytics question, as rows named like the `auth_records` columns. */
export interface AuthRecordRows {
  series: Row[];
  byOutcome: Row[];
  byReason: Row[];
  byCredential: Row[];
  byProxy: Row[];
  byIssuer: Row[];
  topCredentials: Row[];
  topAddresses: Row[];
  spend: Row[];
}

/**
 * Where the analytics read the auth records: PostgreSQL (`AuthRecordRepository`, the default) or
 * Elasticsearch when ELASTICSEARCH_URL is set (`ElasticsearchAuthRecords`), where the indexers write.
 */
export interface AuthRecordReads {
  readonly source: 'postgresql' | 'elasticsearch';
  /** False before any indexer created the store: every answer is then empty. */
  exists(): Promise<boolean>;
  analytics(scope: AuthRecordScope, w: AuthRecordWindow): Promise<AuthRecordRows>;
}

export const AUTH_RECORD_READS = Symbol('AuthRecordReads');
