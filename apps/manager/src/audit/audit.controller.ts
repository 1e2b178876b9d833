import { Controller, Get, Sse } from '@nestjs/common';
import { auditPageSchema, auditQuerySchema, type AuditQuery } from '@idm/domain';
import { Contract, ContractQuery } from '../openapi/contract.decorator';
import { AuditService } from './audit.service';

@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Contract({ summary: 'Query the audit trail (newest first, cursor-paginated)', query: auditQuerySchema, response: auditPageSchema })
  query(@ContractQuery() query: AuditQuery) {
    return this.audit.query(query);
  }

  @Sse('stream')
  @Contract({ summary: 'Live audit tail as Server-Sent Events', produces: 'text/event-stream' })
  stream() {
    return this.audit.tail();
  }
}
