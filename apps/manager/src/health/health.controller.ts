import { Controller, Get, Header, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { Database } from '../database/database';
import { Contract } from '../openapi/contract.decorator';
import { livenessSchema, readinessSchema, type Liveness, type Readiness } from './health.schema';
import { metricsRegistry } from '../observability/metrics';

@Controller()
export class HealthController {
  constructor(
    private readonly database: Database,
    private readonly publisher: ConfigPublisher,
  ) {}

  @Get('health/live')
  @Contract({ summary: 'Liveness: the process answers', public: true, response: livenessSchema })
  live(): Liveness {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @Contract({ summary: 'Readiness: the database and Redis are usable (503 otherwise)', public: true, response: readinessSchema, sameBodyStatuses: [503] })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<Readiness> {
    const database = await this.database.ping().then(
      () => 'up' as const,
      () => 'down' as const,
    );
    const redis = this.publisher.isRedisReady() ? 'up' : 'down';
    const ready = database === 'up' && redis === 'up';
    reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', database, databaseKind: this.database.kind, redis };
  }

  @Get('metrics')
  @Header('content-type', metricsRegistry.contentType)
  @Contract({ summary: 'Prometheus metrics', public: true, produces: 'text/plain' })
  metrics() {
    return metricsRegistry.metrics();
  }
}
