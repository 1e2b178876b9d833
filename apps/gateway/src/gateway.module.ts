import { EnvironmentConfigStore } from '@idm/config-bus';
import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway-config';
import { ActiveConfiguration } from './serving/active-configuration';
import { ConfigChangedController } from './config-sync/config-changed.controller';
import { createConfigRedis } from './config-sync/config-redis';
import { ConfigSync } from './config-sync/config-sync';
import { CONFIG_REDIS, GATEWAY_LOGGER } from './config-sync/config-sync.injection';
import { HealthController } from './health/health.controller';
import { GatewayMetrics } from './metrics/gateway-metrics';
import { MetricsController } from './metrics/metrics.controller';
import { ProxyRequestHandler } from './proxy/proxy-request.handler';
import { ClientIpResolver } from './http/client-ip';
import { UpstreamPools } from './proxy/upstream-pools';
import { createRateLimitRedis } from './rate-limit/rate-limit-redis';
import { createServingDependencies, SERVING_DEPENDENCIES, type ServingDependencies } from './serving/serving-dependencies';
import { RedisRateLimitStore } from '@idm/policies';
import { UpstreamPolicy } from '@idm/domain';
import { GatewayTokenStore } from './token-service/gateway-token-store';
import { tokenServiceProviders } from './token-service/token-service.providers';
import { createTokenIssuers, JwtRevocations } from './token-service/jwt-revocations';

const RATE_LIMIT_REDIS = Symbol('RateLimitRedis');

/**
 * Wires the Gateway. The request-path classes are plain TypeScript built by factories here, so
 * they stay free of Nest and are tested without it. This module owns the connections it
 * opens and closes them after the HTTP server and the transport have stopped.
 */
@Module({})
export class GatewayModule implements OnApplicationShutdown {
  constructor(
    @Inject(UpstreamPools) private readonly pools: UpstreamPools,
    @Inject(CONFIG_REDIS) private readonly redis: Redis,
    @Inject(RATE_LIMIT_REDIS) private readonly rateLimitRedis: Redis,
  ) {}

  static forRoot(config: GatewayConfig, log: Logger): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [HealthController, MetricsController, ConfigChangedController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GATEWAY_LOGGER, useValue: log },
        { provide: GatewayMetrics, useFactory: () => new GatewayMetrics() },
        { provide: UpstreamPools, useFactory: () => new UpstreamPools(config.upstream, new UpstreamPolicy(config.upstreamPolicy)) },
        { provide: CONFIG_REDIS, useFactory: () => createConfigRedis(config.redis, log) },
        { provide: RATE_LIMIT_REDIS, useFactory: () => createRateLimitRedis(config.rateLimit.redis, config.rateLimit.timeoutMs, log) },
        { provide: EnvironmentConfigStore, useFactory: (redis: Redis) => new EnvironmentConfigStore(redis), inject: [CONFIG_REDIS] },
        { provide: SERVING_DEPENDENCIES, useFactory: (rateLimitRedis: Redis) => createServingDependencies(config, rateLimitRedis, log), inject: [RATE_LIMIT_REDIS] },
        {
          provide: ActiveConfiguration,
          useFactory: (
            pools: UpstreamPools,
            metrics: GatewayMetrics,
            rateLimitRedis: Redis,
            serving: ServingDependencies,
            tokens: GatewayTokenStore,
            revocations: JwtRevocations,
          ) => {
            const rateLog = log.child({ component: 'rate-limit' });
            let lastReport = 0;
            return new ActiveConfiguration(pools, metrics, {
              ...serving,
              rateLimits: {
                store: new RedisRateLimitStore(rateLimitRedis, `{idm:rl:${config.environment}}:`),
                // Reported (metric on every failure, a log line at most every 10 s), decided per rule.
                onStoreError: (err) => {
                  if (Date.now() - lastReport < 10_000) return;
                  lastReport = Date.now();
                  rateLog.warn({ err: { message: (err as Error)?.message } }, 'rate-limit store unavailable; rules decide (fail open or closed)');
                },
              },
              tokens: {
                opaqueTokens: tokens,
                issuers: createTokenIssuers(config),
                revokedJwts: revocations.ids,
                onKeyProblems: (problems) => log.error({ problems }, 'signing keys of this revision could not be opened; tokens signed with them are refused'),
              },
            });
          },
          inject: [UpstreamPools, GatewayMetrics, RATE_LIMIT_REDIS, SERVING_DEPENDENCIES, GatewayTokenStore, JwtRevocations],
        },
        {
          provide: ConfigSync,
          useFactory: (redis: Redis, store: EnvironmentConfigStore, active: ActiveConfiguration, metrics: GatewayMetrics) =>
            new ConfigSync(config.environment, config.configPollIntervalMs, redis, store, active, metrics, log.child({ component: 'config-sync' })),
          inject: [CONFIG_REDIS, EnvironmentConfigStore, ActiveConfiguration, GatewayMetrics],
        },
        {
          provide: ProxyRequestHandler,
          useFactory: (active: ActiveConfiguration, metrics: GatewayMetrics) =>
            new ProxyRequestHandler(active, metrics, config, log.child({ component: 'proxy' }), config.clientIp.header === null ? null : new ClientIpResolver(config.clientIp)),
          inject: [ActiveConfiguration, GatewayMetrics],
        },
        ...tokenServiceProviders(config, log),
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pools.closeAll();
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.rateLimitRedis.quit().catch(() => this.rateLimitRedis.disconnect());
  }
}
