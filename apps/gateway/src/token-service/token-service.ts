import { TOKEN_PERSIST_QUEUE, type TokenPersistJob } from '@idm/config-bus';
import type { SecretBox } from '@idm/domain';
import { PasswordVerificationCache } from '@idm/policies';
import { OpaqueTokenStore } from '@idm/tokens';
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';
import type { ActiveConfiguration } from '../config-sync/active-configuration';
import { redisTransportOptions } from '../config-sync/config-redis';
import { GatewayTokenStore } from './gateway-token-store';
import { TokenEndpoints } from './token-endpoints';
import { TokenHttpHandler } from './token-http.handler';
import { createTokenRedis } from './token-redis';

export interface TokenService {
  readonly store: GatewayTokenStore;
  /** Binds the HTTP surface to the configuration it reads at call time. */
  handlerFor(active: ActiveConfiguration): TokenHttpHandler;
  /** Closes the queue, the bus client and the Redis connection (after the listener stopped). */
  close(): Promise<void>;
}

/**
 * The token service's connections and store: opaque tokens live in Redis (own connection), their
 * durable copies go to the Manager through a BullMQ queue, and lookups of copies Redis forgot go
 * over the bus (@nestjs/microservices Redis client).
 */
export function createTokenService(config: GatewayConfig, secrets: SecretBox, log: Logger): TokenService {
  const tokenLog = log.child({ component: 'token-service' });
  const redis = createTokenRedis(config.redisUrl, tokenLog, 'idm-gateway-tokens');
  // BullMQ holds its own connection; failed enqueues are logged by GatewayTokenStore.
  const queue = new Queue<TokenPersistJob>(TOKEN_PERSIST_QUEUE, { connection: { url: config.redisUrl, enableOfflineQueue: false, maxRetriesPerRequest: 1 } as never });
  queue.on('error', () => undefined);
  const bus = ClientProxyFactory.create({ transport: Transport.REDIS, options: redisTransportOptions(config.redisUrl) });
  (bus as unknown as { on?: (e: string, f: () => void) => void }).on?.('error', () => undefined);
  const store = new GatewayTokenStore(new OpaqueTokenStore(redis, { keyPrefix: `idm:tokens:${config.environment}` }), redis, queue, bus, config.environment, config.tokenLookupTimeoutMs, tokenLog);
  return {
    store,
    handlerFor: (active) =>
      new TokenHttpHandler(
        new TokenEndpoints(active, store, secrets, new PasswordVerificationCache(), config.environment, { realm: 'credential', ...config.tokenService }),
        new TokenEndpoints(active, store, secrets, new PasswordVerificationCache(), config.environment, { realm: 'auth' }),
        tokenLog,
      ),
    close: async () => {
      await queue.close().catch(() => undefined);
      await bus.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
