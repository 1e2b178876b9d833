import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  AuthRecordIndexer,
  elasticsearchClient,
  ElasticsearchSink,
  poolClient,
  PostgresSink,
  type AuthRecordSink,
  type IndexerLog,
  type SqlClient,
} from '@idm/auth-record-indexing';
import { createRedisClient } from '@idm/config-bus';
import type { PGlite } from '@electric-sql/pglite';
import type Redis from 'ioredis';
import { hostname } from 'node:os';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { Database } from '../database/database';

/** PGlite as the sink's SQL client; the Manager owns (and closes) the database. */
function pgliteClient(pglite: PGlite): SqlClient {
  return {
    query: (text, params) => pglite.query(text, params) as never,
    transaction: (work) => pglite.transaction(async (tx) => void (await work({ query: (text, params) => tx.query(text, params) as never }))),
    close: async () => undefined,
  };
}

/**
 * The auth record indexer inside the Manager, when no indexer process can write where the
 * Manager reads: embedded PGlite belongs to this process alone, so `npm start` (PGlite by default)
 * indexes here. The same consumer as apps/indexer (consumer group, idempotent writes), so it may
 * run beside indexer processes on the same stream.
 */
@Injectable()
export class EmbeddedAuthRecordIndexer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuthRecordIndexer');
  private indexer: AuthRecordIndexer | null = null;
  private running: Promise<void> | null = null;
  private redis: Redis | null = null;

  constructor(
    @Inject(MANAGER_CONFIG) private readonly config: ManagerConfig,
    private readonly database: Database,
  ) {}

  /** Whether this Manager indexes (AUTH_RECORDS_INDEXER). */
  get enabled(): boolean {
    const mode = this.config.AUTH_RECORDS_INDEXER;
    return mode === 'on' || (mode === 'auto' && this.database.kind === 'pglite' && this.config.ELASTICSEARCH_URL === undefined);
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.redis = createRedisClient(this.config.redis, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 250, 2_000),
      connectionName: 'idm-manager-indexer',
    });
    this.redis.on('error', () => undefined); // the loop logs what it could not do
    this.indexer = new AuthRecordIndexer(this.redis, this.sink(), { consumer: `manager:${hostname()}:${process.pid}`, readCount: 20, claimIdleMs: 30_000 }, this.log());
    this.running = this.indexer.run().catch((err: unknown) => this.logger.error(`auth record indexer stopped: ${(err as Error).message}`));
  }

  /** Before the database closes (onApplicationShutdown): the last batch is written, or left pending for the next start. */
  async onModuleDestroy(): Promise<void> {
    this.indexer?.stop();
    await this.running;
    this.redis?.disconnect();
  }

  private sink(): AuthRecordSink {
    const c = this.config;
    if (c.ELASTICSEARCH_URL !== undefined)
      return new ElasticsearchSink(
        elasticsearchClient({ url: c.ELASTICSEARCH_URL, apiKey: c.ELASTICSEARCH_API_KEY, username: c.ELASTICSEARCH_USERNAME, password: c.ELASTICSEARCH_PASSWORD }),
        { retentionDays: c.AUTH_RECORDS_RETENTION_DAYS },
      );
    // AUTH_RECORDS_INDEXER=on with DATABASE_URL: a small pool of its own on the Manager's server.
    const sql = this.database.pglite ? pgliteClient(this.database.pglite) : poolClient(c.DATABASE_URL!, 'idm-manager-indexer');
    return new PostgresSink(sql, c.AUTH_RECORDS_RETENTION_DAYS);
  }

  private log(): IndexerLog {
    const line = (fields: object, message: string) => `${message} ${JSON.stringify(fields)}`;
    return {
      info: (fields, message) => this.logger.log(line(fields, message)),
      warn: (fields, message) => this.logger.warn(line(fields, message)),
      error: (fields, message) => this.logger.error(line(fields, message)),
    };
  }
}
