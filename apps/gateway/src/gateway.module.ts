import { SnapshotStore } from '@idm/config-bus';
import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway-config';
import { ConfigChangedController } from './config-sync/config-changed.controller';
import { createConfigRedis } from './config-sync/config-redis';
import { ConfigSync } from './config-sync/config-sync';
import { CONFIG_REDIS, GATEWAY_LOGGER } from './config-sync/config-sync.tokens';
import { DataPlaneThread } from './data-plane/data-plane-thread';
import { HealthController } from './health/health.controller';
import { ControlMetrics } from './metrics/control-metrics';
import { MetricsController } from './metrics/metrics.controller';

/**
 * The Gateway's control thread: `config.changed` events and snapshot reads (ConfigSync, which
 * hands every revision to the data-plane thread), health and metrics. Client traffic is served
 * by the data-plane thread (DataPlaneThread), which owns the listening sockets and relays the
 * requests for these endpoints here. This module closes its Redis connection after the
 * transport has stopped.
 */
@Module({})
export class GatewayModule implements OnApplicationShutdown {
  constructor(@Inject(CONFIG_REDIS) private readonly redis: Redis) {}

  static forRoot(config: GatewayConfig, log: Logger, dataPlane: DataPlaneThread): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [HealthController, MetricsController, ConfigChangedController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GATEWAY_LOGGER, useValue: log },
        { provide: DataPlaneThread, useValue: dataPlane },
        { provide: ControlMetrics, useFactory: () => new ControlMetrics() },
        { provide: CONFIG_REDIS, useFactory: () => createConfigRedis(config.redisUrl, log) },
        { provide: SnapshotStore, useFactory: (redis: Redis) => new SnapshotStore(redis), inject: [CONFIG_REDIS] },
        {
          provide: ConfigSync,
          useFactory: (redis: Redis, store: SnapshotStore, metrics: ControlMetrics) =>
            new ConfigSync(config.environment, config.configPollIntervalMs, redis, store, dataPlane, metrics, log.child({ component: 'config-sync' })),
          inject: [CONFIG_REDIS, SnapshotStore, ControlMetrics],
        },
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
