import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DataPlaneThread } from '../data-plane/data-plane-thread';
import { ControlMetrics } from './control-metrics';

@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(ControlMetrics) private readonly metrics: ControlMetrics,
    @Inject(DataPlaneThread) private readonly dataPlane: DataPlaneThread,
  ) {}

  /** This thread's registry followed by the data plane's (per-proxy traffic, served revision). */
  @Get()
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    reply.header('content-type', this.metrics.registry.contentType);
    return this.metrics.exposition(await this.dataPlane.scrape());
  }
}
