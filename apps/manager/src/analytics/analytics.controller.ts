import { Controller, Get, Req, Res } from '@nestjs/common';
import { authAnalyticsQuerySchema, authAnalyticsSchema, authRecordFilterSchema, type AuthAnalyticsQuery, type AuthRecordFilter } from '@idm/domain';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendServerSentEvents } from '../audit/server-sent-events';
import { Contract, ContractQuery } from '../openapi/contract.decorator';
import { AuthAnalyticsService } from './auth-analytics.service';

@Controller('api/v1/analytics/auth')
export class AnalyticsController {
  constructor(private readonly analytics: AuthAnalyticsService) {}

  @Get()
  @Contract({
    summary: 'Authentication analytics: counts by outcome, reason, credential, proxy and issuer over time buckets; top failing credentials and addresses',
    query: authAnalyticsQuerySchema,
    response: authAnalyticsSchema,
  })
  query(@ContractQuery() query: AuthAnalyticsQuery) {
    return this.analytics.query(query);
  }

  @Get('stream')
  @Contract({ summary: 'Live tail of the auth records of every Gateway as Server-Sent Events', query: authRecordFilterSchema, produces: 'text/event-stream' })
  stream(@ContractQuery() query: AuthRecordFilter, @Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    sendServerSentEvents(request, reply, this.analytics.tail(query));
  }
}
