/**
 * The auth record indexer's parts: the stream consumer and the sinks. `apps/indexer` runs them as
 * their own process; the Manager hosts the consumer itself when its database is embedded PGlite.
 */
export { AuthRecordConsumer, type ConsumerLog, type ConsumerSettings } from './auth-record-consumer';
export { AuthRecordIndexer, type IndexerLog } from './auth-record-indexer';
export type { AuthRecordSink } from './auth-record-sink';
export { PostgresSink, AUTH_RECORDS_TABLE, partitionName } from './sinks/postgres-sink';
export { poolClient, type SqlClient, type SqlSession } from './sinks/sql-client';
export {
  ElasticsearchSink,
  AUTH_RECORD_DATA_STREAM,
  elasticsearchClient,
  type ElasticsearchConnection,
  documentOf,
  indexTemplate,
  lifecyclePolicy,
} from './sinks/elasticsearch-sink';
