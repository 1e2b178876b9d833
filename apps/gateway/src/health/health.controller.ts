import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway-config';
import { CONFIG_REDIS } from '../config-sync/config-sync.tokens';
import { DataPlaneThread } from '../data-plane/data-plane-thread';

@Controller('health')
export class HealthController {
  constructor(
    @Inject(DataPlaneThread) private readonly dataPlane: DataPlaneThread,
    @Inject(CONFIG_REDIS) private readonly redis: Redis,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * The process runs: this answer came through the data-plane thread's socket from the control
   * thread, so both event loops turn. Says nothing about config or Redis.
   */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /**
   * Ready once the data plane serves a compiled snapshot. Redis being down does not make us
   * unready: the last config keeps serving traffic, which is better than no Gateway at all.
   */
  @Get('ready')
  ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const revision = this.dataPlane.revision;
    const ready = revision !== null;
    if (!ready) reply.code(503);
    return { status: ready ? 'ready' : 'not_ready', environment: this.config.environment, revision, redis: this.redis.status };
  }
}
