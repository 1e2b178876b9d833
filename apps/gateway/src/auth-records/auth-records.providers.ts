import { closeRedis } from '@idm/config-bus';
import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';
import { createFailFastRedis } from '../config/fail-fast-redis';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { countryDatabaseLoaded, countryOf, loadCountryDatabase } from '@idm/policies';
import { AuthRecordFactory, type CountryOfRecord } from './auth-record-factory';
import { AuthRecordQueue } from './auth-record-queue';
import { AuthRecorder } from './auth-recorder';

/** The durable queue of the auth records, or null when AUTH_RECORDS=false. */
export const AUTH_RECORD_QUEUE = Symbol('AuthRecordQueue');
const AUTH_RECORD_REDIS = Symbol('AuthRecordRedis');

/** Sends what is buffered and closes the queue's connection, after the HTTP server stopped. */
@Injectable()
export class AuthRecordConnections implements OnApplicationShutdown {
  constructor(
    @Inject(AUTH_RECORD_QUEUE) private readonly queue: AuthRecordQueue | null,
    @Inject(AUTH_RECORD_REDIS) private readonly redis: Redis | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queue?.close();
    if (this.redis) await closeRedis(this.redis);
  }
}

/** AUTH_RECORDS_COUNTRY: the same GeoIP database as the geo credential rules (`auto`: once they opened it). */
export function recordCountry(mode: GatewayConfig['authRecordCountry']): CountryOfRecord {
  if (mode === 'off') return () => null;
  if (mode === 'on') {
    loadCountryDatabase();
    return countryOf;
  }
  return (clientIp) => (countryDatabaseLoaded() ? countryOf(clientIp) : null);
}

/**
 * `AuthRecorder` (inject it to subscribe), the factory the request path builds records with, and
 * the queue to the indexers subscribed to it (its own connection: a slow XADD never delays a
 * rate-limit check or a config read).
 */
export function authRecordProviders(config: GatewayConfig, log: Logger): Provider[] {
  return [
    { provide: AuthRecorder, useFactory: () => new AuthRecorder() },
    { provide: AuthRecordFactory, useFactory: () => new AuthRecordFactory(config.environment, config.gatewayId, Date.now, recordCountry(config.authRecordCountry)) },
    {
      provide: AUTH_RECORD_REDIS,
      useFactory: () =>
        config.authRecords === null ? null : createFailFastRedis(config.redis, log, { name: 'idm-gateway-auth-records', maxRetriesPerRequest: 1, commandTimeoutMs: 5_000 }),
    },
    {
      provide: AUTH_RECORD_QUEUE,
      useFactory: (redis: Redis | null, recorder: AuthRecorder, metrics: GatewayMetrics) => {
        if (config.authRecords === null || redis === null) return null;
        const queue = new AuthRecordQueue(
          redis,
          config.authRecords,
          {
            queued: (count) => metrics.authRecords.inc({ result: 'queued' }, count),
            dropped: (reason, count) => metrics.authRecords.inc({ result: `dropped_${reason}` }, count),
          },
          log.child({ component: 'auth-records' }),
        );
        metrics.authRecordsBufferedNow = () => queue.buffered;
        recorder.subscribe(queue.listener);
        queue.start();
        return queue;
      },
      inject: [AUTH_RECORD_REDIS, AuthRecorder, GatewayMetrics],
    },
    AuthRecordConnections,
  ];
}
