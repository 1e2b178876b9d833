import { closeRedis } from '@idm/config-bus';
import { RevokedJwtIds } from '@idm/tokens';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/gateway-config';
import { createFailFastRedis } from '../config/fail-fast-redis';
import { TrustedHops } from '../http/trusted-hops';
import { TokenIssuers } from './issuer-url';

/**
 * The environment's revoked JWT ids on this Gateway: the shared list in Redis, mirrored in memory
 * through a subscriber connection of its own. The token endpoints add to it (revocation) and read
 * it (introspection, regeneration); jwt-auth reads it on every request, a Map lookup.
 */
@Injectable()
export class JwtRevocations implements OnApplicationShutdown {
  readonly ids: RevokedJwtIds;
  private readonly subscriber: Redis;

  constructor(config: Pick<GatewayConfig, 'redis' | 'environment'>, redis: Redis, log: Logger) {
    this.subscriber = createFailFastRedis(config.redis, log, { name: 'idm-gateway-jwt-revocations', maxRetriesPerRequest: 1 });
    let reported = 0;
    this.ids = new RevokedJwtIds(redis, this.subscriber, {
      key: `idm:jwt-revoked:${config.environment}`,
      onError: (err) => {
        // Retried every second while Redis is away: one line per minute is enough.
        if (Date.now() - reported < 60_000) return;
        reported = Date.now();
        log.warn({ err: { message: (err as Error)?.message } }, 'revoked JWT list could not be loaded; retrying');
      },
    });
    this.ids.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.ids.stop();
    await closeRedis(this.subscriber);
  }
}

/** Issuers from GATEWAY_PUBLIC_URL, or per request, believing X-Forwarded-* from the hops the proxy path trusts. */
export function createTokenIssuers(config: Pick<GatewayConfig, 'publicUrl' | 'trustProxy' | 'clientIp'>): TokenIssuers {
  const hops = config.clientIp.trustedProxies.length === 0 ? null : new TrustedHops(config.clientIp.trustedProxies);
  return new TokenIssuers(config.publicUrl, (peer) => config.trustProxy || (hops !== null && peer !== undefined && hops.trusts(peer)));
}
