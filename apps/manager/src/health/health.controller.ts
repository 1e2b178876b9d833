import { Controller, Get, Header, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { Database } from '../database/database';
import { Contract } from '../openapi/contract.decorator';
import { metricsRegistry } from '../observability/metrics';

@Controller()
export class HealthController {
  constructor(
    private readonly database: Database,
    private readonly publisher: ConfigPublisher,
  ) {}

  @Get('health/live')
  @Contract({ summary: 'Liveness: the process answers', public: true })
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @Contract({ summary: 'Readiness: the database and Redis are usable (503 otherwise)', public: true })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const database = await this.database.ping().then(() => 'up', () => 'down');
    const redis = this.publisher.isRedisReady() ? 'up' : 'down';
    const ready = database === 'up' && redis === 'up';
    reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', database, databaseKind: this.database.kind, redis };
  }

  @Get('metrics')
  @Header('content-type', metricsRegistry.contentType)
  @Contract({ summary: 'Prometheus metrics', public: true })
  metrics() {
    return metricsRegistry.metrics();
  }
}
