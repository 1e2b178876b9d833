import { createRedisClient, RedisBusClient, TOKEN_PERSIST_PREFIX, TOKEN_PERSIST_QUEUE, type TokenPersistJob } from '@idm/config-bus';
import { OpaqueTokenStore } from '@idm/tokens';
import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';
import { ActiveConfiguration } from '../serving/active-configuration';
import { SERVING_DEPENDENCIES, type ServingDependencies } from '../serving/serving-dependencies';
import { GatewayTokenStore } from './gateway-token-store';
import { TokenEndpoints } from './token-endpoints';
import { configuredFailureLimits } from './token-failure-limits';
import { TokenHttpHandler } from './token-http.handler';
import { createTokenIssuers, JwtRevocations } from './jwt-revocations';
import { createTokenRedis } from './token-redis';

export const TOKEN_REDIS = Symbol('TokenRedis');
export const TOKEN_PERSIST = Symbol('TokenPersistQueue');
export const TOKEN_BUS = Symbol('TokenBus');
export const TOKEN_FAILURES = Symbol('TokenFailureLimits');
/** The `/auth` prefix's TokenEndpoints (the class token itself is `/credential`'s). */
export const AUTH_TOKEN_ENDPOINTS = Symbol('AuthTokenEndpoints');

/** Closes what the token service opened, after the HTTP server stopped. */
@Injectable()
export class TokenServiceConnections implements OnApplicationShutdown {
  constructor(
    @Inject(TOKEN_REDIS) private readonly redis: Redis,
    @Inject(TOKEN_PERSIST) private readonly queue: Queue<TokenPersistJob>,
    @Inject(TOKEN_BUS) private readonly bus: ClientProxy,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    await this.bus.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export function tokenServiceProviders(config: GatewayConfig, log: Logger): Provider[] {
  const tokenLog = log.child({ component: 'token-service' });
  return [
    { provide: TOKEN_REDIS, useFactory: () => createTokenRedis(config.redis, tokenLog, 'idm-gateway-tokens') },
    {
      provide: TOKEN_PERSIST,
      // BullMQ holds its own connection; failed enqueues are logged by GatewayTokenStore.
      useFactory: () => {
        const connection = createRedisClient(config.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'idm-gateway-token-persist' });
        connection.on('error', () => undefined);
        const queue = new Queue<TokenPersistJob>(TOKEN_PERSIST_QUEUE, { prefix: TOKEN_PERSIST_PREFIX, connection });
        queue.on('error', () => undefined);
        return queue;
      },
    },
    {
      provide: TOKEN_BUS,
      useFactory: () => {
        const bus = new RedisBusClient(config.redis);
        (bus as unknown as { on?: (e: string, f: () => void) => void }).on?.('error', () => undefined);
        return bus;
      },
    },
    {
      provide: GatewayTokenStore,
      useFactory: (redis: Redis, queue: Queue<TokenPersistJob>, bus: ClientProxy) =>
        new GatewayTokenStore(
          new OpaqueTokenStore(redis, { keyPrefix: `{idm:tokens:${config.environment}}` }),
          redis,
          queue,
          bus,
          config.environment,
          config.tokenLookupTimeoutMs,
          tokenLog,
        ),
      inject: [TOKEN_REDIS, TOKEN_PERSIST, TOKEN_BUS],
    },
    { provide: TOKEN_FAILURES, useFactory: (redis: Redis) => configuredFailureLimits(config, redis, tokenLog), inject: [TOKEN_REDIS] },
    {
      provide: TokenEndpoints,
      useFactory: (active: ActiveConfiguration, store: GatewayTokenStore, serving: ServingDependencies, failures: ReturnType<typeof configuredFailureLimits>) =>
        new TokenEndpoints(active, store, serving.secrets, serving.passwordCache, config.environment, { surface: 'credential', ...config.tokenService, failures }),
      inject: [ActiveConfiguration, GatewayTokenStore, SERVING_DEPENDENCIES, TOKEN_FAILURES],
    },
    {
      provide: AUTH_TOKEN_ENDPOINTS,
      useFactory: (active: ActiveConfiguration, store: GatewayTokenStore, serving: ServingDependencies, failures: ReturnType<typeof configuredFailureLimits>) =>
        new TokenEndpoints(active, store, serving.secrets, serving.passwordCache, config.environment, { surface: 'auth', failures }),
      inject: [ActiveConfiguration, GatewayTokenStore, SERVING_DEPENDENCIES, TOKEN_FAILURES],
    },
    {
      provide: TokenHttpHandler,
      useFactory: (credential: TokenEndpoints, auth: TokenEndpoints) => new TokenHttpHandler(credential, auth, tokenLog, createTokenIssuers(config)),
      inject: [TokenEndpoints, AUTH_TOKEN_ENDPOINTS],
    },
    { provide: JwtRevocations, useFactory: (redis: Redis) => new JwtRevocations(config, redis, tokenLog), inject: [TOKEN_REDIS] },
    TokenServiceConnections,
  ];
}
