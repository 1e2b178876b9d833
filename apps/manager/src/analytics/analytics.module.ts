import { Module } from '@nestjs/common';
import { elasticsearchClient } from '@idm/auth-record-indexing';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { AuthRecordRepository } from '../repositories/auth-record.repository';
import { AnalyticsController } from './analytics.controller';
import { AuthAnalyticsService } from './auth-analytics.service';
import { AUTH_RECORD_READS } from './auth-record-reads';
import { ElasticsearchAuthRecords } from './elasticsearch-auth-records';
import { EmbeddedAuthRecordIndexer } from './embedded-auth-record-indexer';

@Module({
  controllers: [AnalyticsController],
  providers: [
    AuthAnalyticsService,
    EmbeddedAuthRecordIndexer,
    {
      // Where the indexers write: Elasticsearch when ELASTICSEARCH_URL is set, else this database.
      provide: AUTH_RECORD_READS,
      inject: [MANAGER_CONFIG, AuthRecordRepository],
      useFactory: (c: ManagerConfig, postgres: AuthRecordRepository) =>
        c.ELASTICSEARCH_URL === undefined
          ? postgres
          : new ElasticsearchAuthRecords(
              elasticsearchClient({ url: c.ELASTICSEARCH_URL, apiKey: c.ELASTICSEARCH_API_KEY, username: c.ELASTICSEARCH_USERNAME, password: c.ELASTICSEARCH_PASSWORD }),
            ),
    },
  ],
})
export class AnalyticsModule {}
