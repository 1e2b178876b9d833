import { closeRedis, EnvironmentConfigStore, GatewayPresenceStore } from '@idm/config-bus';
import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway-config';
import { ActiveConfiguration } from './serving/active-configuration';
import { createConfigRedis } from './config-sync/config-redis';
import { ConfigSync } from './config-sync/config-sync';
import { CONFIG_REDIS, GATEWAY_LOGGER } from './config-sync/config-sync.injection';
import { HealthController } from './health/health.controller';
import { GatewayIdentitySources } from './identity-sources/gateway-identity-sources';
import { upstreamGuard } from '@idm/identity-sources';
import { GatewayKeyManagers } from './issuers/gateway-key-managers';
import { GatewayMetrics } from './metrics/gateway-metrics';
import { MetricsController } from './metrics/metrics.controller';
import { ProxyRequestHandler } from './proxy/proxy-request.handler';
import { ClientIpResolver } from './http/client-ip';
import { UpstreamPools } from './proxy/upstream-pools';
import { createRateLimitRedis, RATE_LIMIT_REDIS } from './rate-limit/rate-limit-redis';
import { createServingDependencies, SERVING_DEPENDENCIES, type ServingDependencies } from './serving/serving-dependencies';
import { jwksFetcherWith, RedisRateLimitStore, RedisTokenQuotaStore } from '@idm/policies';
import { guardedConnector } from './proxy/upstream-connector';
import { UpstreamPolicy } from '@idm/domain';
import { GatewayTokenStore } from './token-service/gateway-token-store';
import { TOKEN_REDIS, tokenServiceProviders } from './token-service/token-service.providers';
import { ConfiguredBruteForce } from './brute-force/brute-force.providers';
import { ProxyBruteForce } from './brute-force/proxy-brute-force';
import { createTokenIssuers, JwtRevocations } from './token-service/jwt-revocations';
import { authRecordProviders } from './auth-records/auth-records.providers';
import { AuthRecorder } from './auth-records/auth-recorder';
import { AuthRecordFactory } from './auth-records/auth-record-factory';
import { GatewayHeartbeat } from './presence/gateway-heartbeat';
import { gatewayVersion } from './presence/gateway-version';

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
    @Inject(GatewayKeyManagers) private readonly keyManagers: GatewayKeyManagers,
    @Inject(GatewayIdentitySources) private readonly identitySources: GatewayIdentitySources,
    @Inject(SERVING_DEPENDENCIES) private readonly serving: ServingDependencies,
  ) {}

  static forRoot(config: GatewayConfig, log: Logger): DynamicModule {
    // One policy for proxied traffic, the JOSE policies' JWKS fetches and key managers' endpoints.
    const upstreamPolicy = new UpstreamPolicy(config.upstreamPolicy);
    return {
      module: GatewayModule,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GATEWAY_LOGGER, useValue: log },
        { provide: GatewayMetrics, useFactory: () => new GatewayMetrics() },
        { provide: UpstreamPools, useFactory: () => new UpstreamPools(config.upstream, upstreamPolicy) },
        { provide: CONFIG_REDIS, useFactory: () => createConfigRedis(config.redis, log) },
        { provide: RATE_LIMIT_REDIS, useFactory: () => createRateLimitRedis(config.rateLimit.redis, config.rateLimit.timeoutMs, log) },
        { provide: EnvironmentConfigStore, useFactory: (redis: Redis) => new EnvironmentConfigStore(redis), inject: [CONFIG_REDIS] },
        {
          provide: SERVING_DEPENDENCIES,
          useFactory: (rateLimitRedis: Redis, tokenRedis: Redis) => createServingDependencies(config, rateLimitRedis, log, tokenRedis),
          inject: [RATE_LIMIT_REDIS, TOKEN_REDIS],
        },
        {
          provide: GatewayKeyManagers,
          // The introspection cache shares the rate limits' connection: short timeouts, fail fast on the request path.
          useFactory: (rateLimitRedis: Redis, serving: ServingDependencies) => {
            const issuerLog = log.child({ component: 'key-managers' });
            const lastReport = new Map<string, number>();
            return new GatewayKeyManagers({
              redis: rateLimitRedis,
              secrets: serving.secrets,
              upstreamPolicy,
              onError: (keyManager, err) => {
                if (Date.now() - (lastReport.get(keyManager) ?? 0) < 10_000) return;
                lastReport.set(keyManager, Date.now());
                issuerLog.warn({ keyManager, err: { message: err.message } }, 'key manager endpoint failed; cached keys and answers keep serving');
              },
            });
          },
          inject: [RATE_LIMIT_REDIS, SERVING_DEPENDENCIES],
        },
        {
          provide: GatewayIdentitySources,
          useFactory: (serving: ServingDependencies) => {
            const sourceLog = log.child({ component: 'identity-sources' });
            const lastReport = new Map<string, number>();
            return new GatewayIdentitySources({
              secrets: serving.secrets,
              // LDAP and SQL servers are held to the same upstream policy as proxied traffic and key managers.
              guard: upstreamGuard(upstreamPolicy),
              // The error names the step and the server, never a username or password.
              onFailure: (source, err) => {
                if (Date.now() - (lastReport.get(source) ?? 0) < 10_000) return;
                lastReport.set(source, Date.now());
                sourceLog.warn({ source, code: err.code, err: { message: err.message } }, 'identity source failed to answer; the next source in the list is asked');
              },
              onUnusable: (source, reason) => sourceLog.error({ source, reason }, 'identity source cannot be used by this gateway'),
            });
          },
          inject: [SERVING_DEPENDENCIES],
        },
        {
          provide: ActiveConfiguration,
          useFactory: (
            pools: UpstreamPools,
            metrics: GatewayMetrics,
            rateLimitRedis: Redis,
            serving: ServingDependencies,
            tokens: GatewayTokenStore,
            revocations: JwtRevocations,
            keyManagers: GatewayKeyManagers,
            identitySources: GatewayIdentitySources,
          ) => {
            const rateLog = log.child({ component: 'rate-limit' });
            let lastReport = 0;
            return new ActiveConfiguration(pools, metrics, {
              ...serving,
              // Partner JWKS (JOSE policies) are fetched under the same upstream policy as proxied traffic.
              fetchJwks: jwksFetcherWith((origin, options) => guardedConnector(upstreamPolicy, origin, options)),
              keyManagers,
              identitySources,
              rateLimits: {
                store: new RedisRateLimitStore(rateLimitRedis, `{idm:rl:${config.environment}}:`),
                tokenQuotas: new RedisTokenQuotaStore(rateLimitRedis, `{idm:rl:${config.environment}}:`),
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
          inject: [UpstreamPools, GatewayMetrics, RATE_LIMIT_REDIS, SERVING_DEPENDENCIES, GatewayTokenStore, JwtRevocations, GatewayKeyManagers, GatewayIdentitySources],
        },
        {
          provide: ConfigSync,
          useFactory: (redis: Redis, store: EnvironmentConfigStore, active: ActiveConfiguration, metrics: GatewayMetrics) =>
            new ConfigSync(config.environment, config.configPollIntervalMs, redis, store, active, metrics, log.child({ component: 'config-sync' })),
          inject: [CONFIG_REDIS, EnvironmentConfigStore, ActiveConfiguration, GatewayMetrics],
        },
        {
          provide: GatewayHeartbeat,
          useFactory: (redis: Redis, active: ActiveConfiguration, revocations: JwtRevocations, metrics: GatewayMetrics) =>
            new GatewayHeartbeat(
              { id: config.gatewayId, environment: config.environment, version: gatewayVersion(), intervalMs: config.heartbeatIntervalMs },
              new GatewayPresenceStore(redis, config.environment),
              () => ({
                epoch: active.current?.epoch ?? null,
                revision: active.revision,
                appliedAt: active.appliedAt,
                // What /health/ready answers.
                ready: active.revision !== null && revocations.ids.loaded,
                answered: metrics.proxiedResponses(),
              }),
              log.child({ component: 'heartbeat' }),
            ),
          inject: [CONFIG_REDIS, ActiveConfiguration, JwtRevocations, GatewayMetrics],
        },
        {
          provide: ProxyRequestHandler,
          useFactory: (active: ActiveConfiguration, metrics: GatewayMetrics, recorder: AuthRecorder, factory: AuthRecordFactory, bruteForce: ConfiguredBruteForce) => {
            // Failures are counted from the auth records (the one place every decision is reported).
            const proxyBruteForce = new ProxyBruteForce(bruteForce.guard, (proxyId) => active.current?.proxies.get(proxyId)?.projectId);
            const { perCredential, perAddress, perCredentialAddress } = config.bruteForce.detectors;
            if (perCredential + perAddress + perCredentialAddress > 0) recorder.subscribeRefusals(proxyBruteForce.countFailure);
            const clientIp = config.clientIp.header === null ? null : new ClientIpResolver(config.clientIp);
            return new ProxyRequestHandler(active, metrics, config, log.child({ component: 'proxy' }), clientIp, { recorder, factory }, proxyBruteForce);
          },
          inject: [ActiveConfiguration, GatewayMetrics, AuthRecorder, AuthRecordFactory, ConfiguredBruteForce],
        },
        ...authRecordProviders(config, log),
        { provide: ConfiguredBruteForce, useFactory: () => new ConfiguredBruteForce(config, log) },
        ...tokenServiceProviders(config, log),
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pools.closeAll();
    await this.keyManagers.close();
    await this.identitySources.close();
    await this.serving.close();
    await Promise.all([this.redis, this.rateLimitRedis].map(closeRedis));
  }
}
