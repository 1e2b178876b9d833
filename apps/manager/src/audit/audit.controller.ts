import { Controller, Get, Req, Res } from '@nestjs/common';
import { auditPageSchema, auditQuerySchema, type AuditQuery } from '@idm/domain';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Contract, ContractQuery } from '../openapi/contract.decorator';
import { AuditService } from './audit.service';
import { sendServerSentEvents } from './server-sent-events';

@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Contract({ summary: 'Query the audit trail (newest first, cursor-paginated)', query: auditQuerySchema, response: auditPageSchema })
  query(@ContractQuery() query: AuditQuery) {
    return this.audit.query(query);
  }

  @Get('stream')
  @Contract({ summary: 'Live audit tail as Server-Sent Events', produces: 'text/event-stream' })
  stream(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    sendServerSentEvents(request, reply, this.audit.tail());
  }
}
