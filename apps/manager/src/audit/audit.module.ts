import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditFanOut } from './audit-fan-out';
import { AuditService } from './audit.service';

@Module({ controllers: [AuditController], providers: [AuditService, AuditFanOut] })
export class AuditModule {}
