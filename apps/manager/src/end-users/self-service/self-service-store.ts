import { createRedisClient } from '@idm/config-bus';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { MANAGER_CONFIG, type ManagerConfig } from '../../config/manager-config';
import { EndUserTokens } from './end-user-tokens';
import { SelfServiceRateLimit } from './self-service-rate-limit';

/** The Redis state of the self-service flows: mail tokens (hashed) and rate-limit counters, shared by every Manager. */
@Injectable()
export class SelfServiceStore implements OnApplicationShutdown {
  private readonly redis: Redis;
  readonly tokens: EndUserTokens;
  readonly rateLimit: SelfServiceRateLimit;

  constructor(@Inject(MANAGER_CONFIG) config: ManagerConfig) {
    this.redis = createRedisClient(config.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      connectionName: 'idm-manager-end-user-self-service',
    });
    this.redis.on('error', () => undefined);
    this.redis.connect().catch(() => undefined);
    this.tokens = new EndUserTokens(this.redis);
    this.rateLimit = new SelfServiceRateLimit(this.redis);
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
