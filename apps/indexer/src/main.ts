import { createRedisClient } from '@idm/config-bus';
import pino from 'pino';
import { AuthRecordIndexer, elasticsearchClient, ElasticsearchSink, poolClient, PostgresSink, type AuthRecordSink } from '@idm/auth-record-indexing';
import { IndexerConfigError, parseIndexerConfig, type IndexerConfig } from './indexer-config';

function sinkOf(config: IndexerConfig): AuthRecordSink {
  const sink = config.sink;
  if (sink.kind === 'postgres') return new PostgresSink(poolClient(sink.url, 'idm-indexer'), config.retentionDays);
  return new ElasticsearchSink(elasticsearchClient(sink), { retentionDays: config.retentionDays });
}

async function main(): Promise<void> {
  let config: IndexerConfig;
  try {
    config = parseIndexerConfig(process.env);
  } catch (err) {
    if (!(err instanceof IndexerConfigError)) throw err;
    process.stderr.write(JSON.stringify({ level: 60, service: 'idm-indexer', msg: err.message, problems: err.problems }) + '\n');
    process.exit(1);
  }
  const log = pino({ level: config.logLevel, base: { service: 'idm-indexer', consumer: config.consumer } });
  const sink = sinkOf(config);
  let stopping = false;
  const redis = createRedisClient(config.redis, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 250, 2_000),
    connectionName: 'idm-indexer',
  });
  redis.on('error', () => undefined); // the loop logs what it could not do
  const indexer = new AuthRecordIndexer(redis, sink, { consumer: config.consumer, readCount: config.readCount, inFlight: config.inFlight, claimIdleMs: config.claimIdleMs }, log);
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    indexer.stop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await indexer.run();
  redis.disconnect();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(JSON.stringify({ level: 60, service: 'idm-indexer', msg: 'indexer failed', err: { message: (err as Error).message } }) + '\n');
  process.exit(1);
});
