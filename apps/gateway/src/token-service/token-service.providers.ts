import { closeQueue, closeRedis, createRedisClient, EndUserLastLogins, RedisBusClient, TOKEN_PERSIST_PREFIX, TOKEN_PERSIST_QUEUE, type TokenPersistJob } from '@idm/config-bus';
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
import { TokenRequestBinding } from './token-binding';
import { JwtBearerGrant } from './jwt-bearer-grant';
import { TokenEndpoints } from './token-endpoints';
import { ConfiguredFailureLimits } from './token-failure-limits';
import { ConfiguredBruteForce } from '../brute-force/brute-force.providers';
import { TokenHttpHandler } from './token-http.handler';
import { createTokenIssuers, JwtRevocations } from './jwt-revocations';
import { createTokenRedis } from './token-redis';
import { AuthRecorder } from '../auth-records/auth-recorder';
import { AuthRecordFactory } from '../auth-records/auth-record-factory';
import { BusEndUserProvisioner } from '../identity-sources/end-user-provisioner';
import { FederatedPasswordValidator } from '../identity-sources/federated-password-validator';
import { GatewayIdentitySources } from '../identity-sources/gateway-identity-sources';
import { CredentialPasswordValidator, type EndUserPasswordValidator } from '../oidc/end-user-password-validator';
import { loginAttemptRecorder } from '../oidc/login-records';
import { OidcProvider } from '../oidc/oidc-provider';
import { ClientKeySets } from '../oidc/client-key-sets';
import { ClientRegistrationEndpoint } from '../oidc/client-registration-endpoint';
import { RegistrationRateLimit } from '../oidc/registration-rate-limit';
import { VerifiedEmailRequirement } from '../oidc/verified-email-requirement';
import { RATE_LIMIT_REDIS } from '../rate-limit/rate-limit-redis';
import { RedisRateLimitStore } from '@idm/policies';
import { DEFAULT_JWKS_TIMING } from '../issuers/jwks-cache';
import { UpstreamPolicy } from '@idm/domain';
import { OidcStore } from '../oidc/oidc-store';
import { BusSelfServiceManager } from '../oidc/self-service-manager';
import { ExternalStartLimit } from '../oidc/external-start-limit';
import { SelfServicePages } from '../oidc/self-service-pages';

export const TOKEN_REDIS = Symbol('TokenRedis');
export const TOKEN_PERSIST = Symbol('TokenPersistQueue');
export const TOKEN_BUS = Symbol('TokenBus');
/** The login page's and the password grant's end users: local ones and those identity sources verify (just-in-time provisioned). */
export const FEDERATED_END_USERS = Symbol('FederatedEndUsers');
/** How long the Manager may take to provision a verified directory user, and the user to reach this Gateway's configuration. */
const PROVISION_TIMEOUT_MS = 5_000;
const PUBLICATION_WAIT_MS = 10_000;
/** How long a self-service page waits for the Manager (a registration hashes a password and sends a mail). */
const SELF_SERVICE_TIMEOUT_MS = 15_000;
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
    await Promise.all([closeQueue(this.queue), this.bus.close(), closeRedis(this.redis)]);
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
      useFactory: (redis: Redis, queue: Queue<TokenPersistJob>, bus: ClientProxy, revocations: JwtRevocations) =>
        new GatewayTokenStore(
          new OpaqueTokenStore(redis, { keyPrefix: `{idm:tokens:${config.environment}}` }),
          redis,
          queue,
          bus,
          config.environment,
          config.tokenLookupTimeoutMs,
          tokenLog,
          revocations.ids,
        ),
      inject: [TOKEN_REDIS, TOKEN_PERSIST, TOKEN_BUS, JwtRevocations],
    },
    // One per Gateway: the login page and both token services share its cached read.
    { provide: VerifiedEmailRequirement, useFactory: (redis: Redis) => new VerifiedEmailRequirement(redis), inject: [TOKEN_REDIS] },
    { provide: TOKEN_FAILURES, useFactory: (bruteForce: ConfiguredBruteForce) => new ConfiguredFailureLimits(config, bruteForce.guard), inject: [ConfiguredBruteForce] },
    {
      provide: FEDERATED_END_USERS,
      useFactory: (active: ActiveConfiguration, serving: ServingDependencies, sources: GatewayIdentitySources, bus: ClientProxy) => {
        const clients = () => active.current?.tokens.clients ?? null;
        return new FederatedPasswordValidator(
          new CredentialPasswordValidator(clients, serving.passwordCache),
          clients,
          sources,
          new BusEndUserProvisioner(bus, PROVISION_TIMEOUT_MS),
          tokenLog.child({ component: 'federated-end-users' }),
          { environment: config.environment, publicationWaitMs: PUBLICATION_WAIT_MS },
        );
      },
      inject: [ActiveConfiguration, SERVING_DEPENDENCIES, GatewayIdentitySources, TOKEN_BUS],
    },
    {
      provide: OidcProvider,
      useFactory: (
        active: ActiveConfiguration,
        redis: Redis,
        serving: ServingDependencies,
        failures: ConfiguredFailureLimits,
        tokens: GatewayTokenStore,
        owners: FederatedPasswordValidator,
        recorder: AuthRecorder,
        factory: AuthRecordFactory,
        sources: GatewayIdentitySources,
        bus: ClientProxy,
        rateLimitRedis: Redis,
        verifiedEmail: VerifiedEmailRequirement,
      ) => {
        const keysLog = tokenLog.child({ component: 'oidc-client-keys' });
        const lastReport = new Map<string, number>();
        // A client's jwks_uri is held to the outbound address policy of proxy upstreams, as key managers are.
        const clientKeys = new ClientKeySets(new UpstreamPolicy(config.upstreamPolicy), {}, DEFAULT_JWKS_TIMING, (uri, err) => {
          if (Date.now() - (lastReport.get(uri) ?? 0) < 10_000) return;
          lastReport.set(uri, Date.now());
          keysLog.warn({ jwksUri: uri, err: { message: err.message } }, "a client's jwks_uri failed; its cached keys keep verifying");
        });
        const provider = new OidcProvider(
          active,
          new OidcStore(redis, config.environment),
          owners,
          serving.passwordCache,
          serving.secrets,
          new EndUserLastLogins(redis),
          failures,
          tokenLog.child({ component: 'oidc' }),
          config.environment,
          tokens,
          clientKeys,
        );
        provider.reportLoginsTo(loginAttemptRecorder(recorder, factory, failures.addressOf));
        provider.requireVerifiedEmailWith(verifiedEmail);
        provider.bindTokensWith(new TokenRequestBinding(serving.senderConstraint, config.tokenDpopNonceRequired));
        // External IdPs (oidc identity sources) provision their users through the same linking as the password sources.
        // Their start is limited per client address across Gateways (EXTERNAL_LOGIN_START_LIMIT).
        provider.federateWith(
          { externalIdp: (name) => sources.externalIdp(name), link: (...args) => owners.link(...args) },
          new ExternalStartLimit(redis, config.environment, config.externalLoginStartLimit, failures.addressOf, tokenLog.child({ component: 'oidc-external' })),
        );
        // RFC 7591/7592: the Manager decides and writes (over the bus); the client reaches this Gateway by publication.
        provider.registerClientsWith(
          new ClientRegistrationEndpoint(bus, redis, () => active.current?.tokens.clients ?? null, config.environment, tokenLog.child({ component: 'client-registration' }), {
            timeoutMs: PROVISION_TIMEOUT_MS,
            publicationWaitMs: PUBLICATION_WAIT_MS,
            // The rate-limit policy's store and connection, under keys of its own.
            rateLimit: {
              limit: new RegistrationRateLimit(new RedisRateLimitStore(rateLimitRedis, `{idm:rl:${config.environment}}:`), config.clientRegistrationLimits),
              addressOf: failures.addressOf,
            },
          }),
        );
        // Registration, verification and reset: pages here, decisions and writes the Manager's over the bus.
        provider.offerSelfService(
          new SelfServicePages(
            active,
            new OidcStore(redis, config.environment),
            new BusSelfServiceManager(bus, SELF_SERVICE_TIMEOUT_MS),
            failures.addressOf,
            tokenLog.child({ component: 'oidc-self-service' }),
          ),
        );
        return provider;
      },
      inject: [
        ActiveConfiguration,
        TOKEN_REDIS,
        SERVING_DEPENDENCIES,
        TOKEN_FAILURES,
        GatewayTokenStore,
        FEDERATED_END_USERS,
        AuthRecorder,
        AuthRecordFactory,
        GatewayIdentitySources,
        TOKEN_BUS,
        RATE_LIMIT_REDIS,
        VerifiedEmailRequirement,
      ],
    },
    {
      provide: TokenEndpoints,
      useFactory: (
        active: ActiveConfiguration,
        store: GatewayTokenStore,
        serving: ServingDependencies,
        failures: ConfiguredFailureLimits,
        oidc: OidcProvider,
        owners: EndUserPasswordValidator,
        redis: Redis,
        verifiedEmail: VerifiedEmailRequirement,
      ) =>
        new TokenEndpoints(active, store, serving.secrets, serving.passwordCache, config.environment, {
          surface: 'credential',
          ...config.tokenService,
          failures,
          binding: new TokenRequestBinding(serving.senderConstraint, config.tokenDpopNonceRequired),
          authorizationCode: oidc,
          owners,
          verifiedEmail,
          // Spent assertion ids live beside the OpenID Provider's client assertions (one store, every Gateway).
          jwtBearer: new JwtBearerGrant(new OidcStore(redis, config.environment)),
        }),
      inject: [ActiveConfiguration, GatewayTokenStore, SERVING_DEPENDENCIES, TOKEN_FAILURES, OidcProvider, FEDERATED_END_USERS, TOKEN_REDIS, VerifiedEmailRequirement],
    },
    {
      provide: AUTH_TOKEN_ENDPOINTS,
      useFactory: (
        active: ActiveConfiguration,
        store: GatewayTokenStore,
        serving: ServingDependencies,
        failures: ConfiguredFailureLimits,
        verifiedEmail: VerifiedEmailRequirement,
      ) =>
        new TokenEndpoints(active, store, serving.secrets, serving.passwordCache, config.environment, {
          surface: 'auth',
          failures,
          binding: new TokenRequestBinding(serving.senderConstraint, config.tokenDpopNonceRequired),
          verifiedEmail,
        }),
      inject: [ActiveConfiguration, GatewayTokenStore, SERVING_DEPENDENCIES, TOKEN_FAILURES, VerifiedEmailRequirement],
    },
    {
      provide: TokenHttpHandler,
      useFactory: (credential: TokenEndpoints, auth: TokenEndpoints, failures: ConfiguredFailureLimits, recorder: AuthRecorder, factory: AuthRecordFactory, oidc: OidcProvider) =>
        new TokenHttpHandler(credential, auth, tokenLog, createTokenIssuers(config), { recorder, factory, addressOf: failures.addressOf }, oidc),
      inject: [TokenEndpoints, AUTH_TOKEN_ENDPOINTS, TOKEN_FAILURES, AuthRecorder, AuthRecordFactory, OidcProvider],
    },
    { provide: JwtRevocations, useFactory: (redis: Redis) => new JwtRevocations(config, redis, tokenLog), inject: [TOKEN_REDIS] },
    TokenServiceConnections,
  ];
}
