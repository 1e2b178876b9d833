import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway-config';
import { ActiveConfiguration } from '../serving/active-configuration';
import { CONFIG_REDIS } from '../config-sync/config-sync.injection';
import { JwtRevocations } from '../token-service/jwt-revocations';

@Controller('health')
export class HealthController {
  constructor(
    @Inject(ActiveConfiguration) private readonly active: ActiveConfiguration,
    @Inject(CONFIG_REDIS) private readonly redis: Redis,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(JwtRevocations) private readonly revocations: JwtRevocations,
  ) {}

  /** The process runs and its event loop answers; says nothing about config or Redis. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /**
   * Ready once a snapshot is compiled and the revoked JWT list was read (before that a revoked
   * token would pass). Redis being down later does not make us unready: the last config and
   * list keep serving traffic, which is better than no Gateway at all.
   */
  @Get('ready')
  ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const revision = this.active.revision;
    const ready = revision !== null && this.revocations.ids.loaded;
    if (!ready) reply.code(503);
    return { status: ready ? 'ready' : 'not_ready', environment: this.config.environment, revision, redis: this.redis.status };
  }
}
