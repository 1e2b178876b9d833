import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ChangeWriter } from '../audit/change-writer';
import { ActorInterceptor } from './actor.interceptor';
import { PermissionService } from './permission.service';

@Global()
@Module({
  providers: [PermissionService, ChangeWriter, { provide: APP_INTERCEPTOR, useClass: ActorInterceptor }],
  exports: [PermissionService, ChangeWriter],
})
export class GovernanceModule {}
